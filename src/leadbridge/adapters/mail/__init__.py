"""Mail: building the message once for every backend, the SMTP backend, and choosing one."""
