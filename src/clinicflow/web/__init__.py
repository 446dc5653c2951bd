"""Server-rendered pages: templates, static files, language and CSRF plumbing."""
