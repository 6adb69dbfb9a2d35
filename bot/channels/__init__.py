"""Providers: each module turns a provider's HTTP into Inbound/StatusEvent and Outbound into HTTP."""
