/** The rules an embedding must keep before it is sealed, shared by the pipeline and producer-side sealing. */
package io.embedseal.serdes.validation;
