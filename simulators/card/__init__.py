"""Virtual smart cards over vpcd, and an isolated pcscd to plug them into."""
