"""leadbridge: a monday.com sales board's status changes, turned into Drive folders, quote
copies, e-mails and GitHub hub issues, each exactly once."""
