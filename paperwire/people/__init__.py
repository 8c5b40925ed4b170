"""Authors of papers and the people behind them: author pages' data, name matching, claims
(docs/community.md, "Authors")."""
