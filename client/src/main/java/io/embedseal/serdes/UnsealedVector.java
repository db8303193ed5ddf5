package io.embedseal.serdes;

/** An opened record's model and vector only ({@link EmbeddingUnsealer#unsealVector}). Never printed with its values. */
public record UnsealedVector(String model, float[] vector) {
    @Override
    public String toString() {
        return "UnsealedVector[" + model + ", " + vector.length + " dims]";
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof UnsealedVector u && model.equals(u.model) && java.util.Arrays.equals(vector, u.vector);
    }

    @Override
    public int hashCode() {
        return model.hashCode() * 31 + java.util.Arrays.hashCode(vector);
    }
}
