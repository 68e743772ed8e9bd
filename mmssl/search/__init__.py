"""``mmssl search``: text queries against an index of video spans.

- :mod:`~mmssl.search.ranking`: the best spans per query (exact in blocks, or faiss);
- :mod:`~mmssl.search.page`: the hits as an HTML page with a thumbnail strip each.

The index is what ``mmssl embed --videos`` writes (:mod:`mmssl.api.collection`).
"""
