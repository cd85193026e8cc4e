"""The federation ranking list (SPEC §4) and its search index: awards, ranking rows, the change
feed to the index, the indexer's position, reindex jobs, the reindex and the audit.

Stages, and who waits on whom:

* the projector records what a batch decides for its own divisions (``awards.record_awards``:
  placing awards, final or provisional) and an insert-only re-rank request per category, in its
  transaction, under its division locks only: no lock all members share;
* the rankings stage (``rerank.process_requests``, run by the indexer process) coalesces requests
  per category and re-ranks each category in its own short transaction under that category's lock,
  writing the changed ranking rows and one change-feed row each (``feed``);
* the indexer reads the feed in commit-safe order (``feed.read_changes``) and bulk-writes documents
  with external versions (the feed row id), so a document's version grows with every change.
"""
