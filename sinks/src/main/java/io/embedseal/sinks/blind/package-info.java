/**
 * Blind index mode: vectors encrypted with approximately distance-comparison-preserving encryption (Fuchsbauer,
 * Ghosal, Hauke, O'Neill, SCN 2022, scale-and-perturb) under a per-tenant vector key, so that a store builds its
 * ordinary nearest-neighbour index over ciphertexts; search re-ranks the candidates exactly from their envelopes.
 */
package io.embedseal.sinks.blind;
