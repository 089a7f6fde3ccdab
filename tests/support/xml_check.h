/* A minimal XML 1.0 well-formedness checker for tests of the SVG writer:
 * one root element, properly nested and matched tags, quoted attributes
 * with no duplicates and no '<' inside, only the five predefined entities
 * and character references, comments and processing instructions, no
 * stray '&' or '<' in text. It does not read DTDs or check namespaces. */
#ifndef CNN_XML_CHECK_H
#define CNN_XML_CHECK_H

#include <stddef.h>

/* 0 if text is a well-formed XML document; otherwise -1 with the line and
 * what was wrong in msg. */
int xml_check(const char *text, char *msg, size_t len);

/* Number of elements named `name` in a well-formed document. */
int xml_count_elements(const char *text, const char *name);

#endif
