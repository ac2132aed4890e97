-- The files of a remote Note are fetched into the blob store and attached to each copy as
-- ordinary attachments owned by the sender's shadow user (pufferd/federation/remote_media.py).
-- media_links records that a copy got its files: NULL while it has none (a later Update of the
-- Note may still bring them); once they are attached, the lines of the Note's attachments that
-- could not be fetched ('' when every one was), which stay links in the copy's text and are kept
-- there when an Update edits the text.
ALTER TABLE federation_notes ADD COLUMN media_links TEXT;
