"""Identity: users, roles, logins (password and phone code), tokens and profiles."""
