"""Downloads: from a direct link to the file on disk.

No Textual, no core imports here: the core drives it, the dashboard and the
CLI show it. `names` makes the file's name, `files` opens and finishes the
`.part` file safely, `fetch` streams one link into it over up to N
connections (segments, resumable from a `plan`), within a total rate limit
(`rate`); `aria2` hands links to an aria2c over its JSON-RPC instead.
"""
