"""Operator alerts (issue 13): notification settings, events and the messages they become
(e-mail through an SMTP relay, webhooks to Slack, Teams or any JSON receiver), the connection
monitor and the daily report. Claims in Table storage make each alert go out once across
every host of the deployment."""
