package io.embedseal.sinks.lucene;

import java.io.IOException;
import org.apache.lucene.codecs.KnnVectorsFormat;
import org.apache.lucene.codecs.KnnVectorsReader;
import org.apache.lucene.codecs.KnnVectorsWriter;
import org.apache.lucene.codecs.lucene99.Lucene99HnswVectorsFormat;
import org.apache.lucene.index.SegmentReadState;
import org.apache.lucene.index.SegmentWriteState;

/**
 * Lucene's HNSW format with a higher dimension limit. Lucene 9 refuses vectors of more than 1024 dimensions by
 * default, while common embedding models have 1536 or 3072. The files are Lucene's own and are written under
 * its format name, so any Lucene 9.12 reader (and the search command) opens them without this class.
 */
final class WideHnswVectorsFormat extends KnnVectorsFormat {

    /** The most dimensions accepted; more than any model in use at the time of writing. */
    static final int MAX_DIMENSIONS = 4096;

    private final Lucene99HnswVectorsFormat delegate;

    WideHnswVectorsFormat(int maxConn, int beamWidth) {
        super("Lucene99HnswVectorsFormat");
        this.delegate = new Lucene99HnswVectorsFormat(maxConn, beamWidth);
    }

    @Override
    public KnnVectorsWriter fieldsWriter(SegmentWriteState state) throws IOException {
        return delegate.fieldsWriter(state);
    }

    @Override
    public KnnVectorsReader fieldsReader(SegmentReadState state) throws IOException {
        return delegate.fieldsReader(state);
    }

    @Override
    public int getMaxDimensions(String fieldName) {
        return MAX_DIMENSIONS;
    }

    @Override
    public String toString() {
        return "WideHnswVectorsFormat(" + delegate + ")";
    }
}
