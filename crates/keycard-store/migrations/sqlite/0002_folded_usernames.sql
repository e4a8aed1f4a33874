-- Usernames are unique within an organization regardless of case: the write that creates an
-- account looks the folded name up under the write lock, and logins find accounts by it.
CREATE INDEX accounts_by_folded_username ON accounts (organization_id, lower(username));
