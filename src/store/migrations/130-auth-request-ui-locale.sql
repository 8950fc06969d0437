-- The language the sign-in and consent pages speak for one authorization request: the app's OpenID Connect
-- `ui_locales`, or the person's choice from the pages' language links (issue 22: those pages were English only).
ALTER TABLE auth_request ADD COLUMN IF NOT EXISTS ui_locale text;
