"""chatdesk: a multi-tenant WhatsApp CRM with a guarded AI assistant."""
