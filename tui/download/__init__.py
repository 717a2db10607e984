"""Downloads: from a direct link to the file on disk. No Textual here."""
