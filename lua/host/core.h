/*
 * core.h — the `core` module: what the stdlib needs from the host itself
 * (version, clock, interrupt state, terminal detection, the resume hint).
 */
#ifndef LLMNAS_CORE_H
#define LLMNAS_CORE_H

/* The text the stdlib asked to be printed if the run is interrupted
 * (e.g. the command that resumes it), or NULL. */
const char *core_resume_hint(void);

#endif
