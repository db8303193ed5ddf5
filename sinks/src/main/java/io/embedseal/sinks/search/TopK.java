package io.embedseal.sinks.search;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;

/** The k highest-scoring hits of an exact scan, in a bounded heap. Ties keep the smaller embedding id. */
public final class TopK {

    private static final Comparator<SearchHit> WORST_FIRST = Comparator.comparingDouble(SearchHit::score)
            .thenComparing(SearchHit::embeddingId, Comparator.reverseOrder());

    private final int k;
    private final PriorityQueue<SearchHit> heap;

    public TopK(int k) {
        if (k < 1) {
            throw new IllegalArgumentException("k must be at least 1, got " + k);
        }
        this.k = k;
        this.heap = new PriorityQueue<>(k + 1, WORST_FIRST);
    }

    public void offer(SearchHit hit) {
        if (heap.size() < k) {
            heap.add(hit);
        } else if (WORST_FIRST.compare(hit, heap.peek()) > 0) {
            heap.poll();
            heap.add(hit);
        }
    }

    /** Best first. */
    public List<SearchHit> result() {
        List<SearchHit> out = new ArrayList<>(heap);
        out.sort(WORST_FIRST.reversed());
        return out;
    }
}
