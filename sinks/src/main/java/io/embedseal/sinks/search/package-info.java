/** What searches over any sink's store share: hits, refusals, query parsing, exact top-k. */
package io.embedseal.sinks.search;
