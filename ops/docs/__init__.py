"""Documentation verification: links and anchors, code blocks, generated sections."""
