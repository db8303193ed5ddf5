package io.embedseal.sinks.search;

/**
 * One result: the embedding's id, its score under the index's similarity (higher is closer) and its model.
 */
public record SearchHit(String embeddingId, float score, String model) {}
