"""Google adapters: Drive, Docs and Sheets behind the Drive port, Gmail behind the Mailer port."""
