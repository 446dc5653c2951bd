"""The consultation assistant: `@b` in the chat, providers, and each consultation's memory."""
