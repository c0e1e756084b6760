"""The Segment and SendGrid product apps (stubs: no product features, a real identity side)."""
