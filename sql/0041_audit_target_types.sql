-- messaging 0041: audit records of more kinds of target.
--
-- 0003 listed the target types of the first tables ('channel', 'membership', 'message');
-- templates add 'template', and the tables that follow will add theirs. The closed list
-- lives in the domain (AuditEntry.targetType, checked before any write); the database
-- keeps the shape of a type name, so a new kind of target needs no migration of this
-- append-only table.
ALTER TABLE messaging_audit_log DROP CONSTRAINT messaging_audit_log_target_type_check;
ALTER TABLE messaging_audit_log ADD CONSTRAINT messaging_audit_log_target_type_check
  CHECK (target_type ~ '^[a-z][a-z_]*$' AND length(target_type) <= 40);
