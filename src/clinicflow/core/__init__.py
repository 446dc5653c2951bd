"""Cross-cutting pieces every domain uses: errors, the clock, security, audit."""
