/** {@code embedseal search}: nearest embeddings in a sink's store, under the tenant's key. */
package io.embedseal.app.search;
