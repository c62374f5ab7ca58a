"""HTTP SMS provider channel: one JSON POST per message to a provider's API (URL, credential
header and body template from options); delivery receipts and replies come back as signed
callbacks (HMAC-SHA256 over the raw body) through `SmsHttpChannel.accept_callback`."""
