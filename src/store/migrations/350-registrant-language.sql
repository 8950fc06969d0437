-- The language a person registered in (issue 22): invitations, codes and booking mail are written in it.
ALTER TABLE registrant ADD COLUMN IF NOT EXISTS language text;
