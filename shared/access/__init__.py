"""Who is calling and what they may do: callers from App Service Authentication's
X-MS-CLIENT-PRINCIPAL or a function key, the three Shuttle roles, and the audit trail of
every state-changing call. No azure.functions here: functions/guard.py applies it."""
