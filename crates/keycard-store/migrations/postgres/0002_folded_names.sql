-- Usernames and emails are unique within an organization regardless of case: the write that sets
-- one looks the folded value up under the write lock, and logins find accounts by username.
CREATE INDEX accounts_by_folded_username ON accounts (organization_id, lower(username));
CREATE INDEX accounts_by_folded_email ON accounts (organization_id, lower(email));
