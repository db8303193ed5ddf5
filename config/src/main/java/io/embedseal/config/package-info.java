/** One configuration model: every setting defined once, with the parsing, errors, environment overrides and docs that follow from it. */
package io.embedseal.config;
