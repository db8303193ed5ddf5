package io.embedseal.topology;

/**
 * What the sealing processor decided for one raw record: a sealed envelope for the sealed topic, or a
 * metadata-only dead letter. Lives only between two nodes of the topology; never serialized.
 */
record Routed(boolean deadLetter, byte[] value) {

    static Routed sealed(byte[] envelope) {
        return new Routed(false, envelope);
    }

    static Routed deadLetter(byte[] metadata) {
        return new Routed(true, metadata);
    }

    @Override
    public String toString() {
        return deadLetter ? "Routed[dead letter]" : "Routed[sealed, " + value.length + " bytes]";
    }
}
