-- luacheck configuration: strategies, examples and tests see llmnas's globals.
std = "lua54"
max_line_length = 120
read_globals = { "json", "core", "arch", "train", "memory", "llm", "mpi" }
files["tests/hostile"] = { only = {} }  -- hostile candidates are meant to be bad code
files["examples"] = { globals = { "Net" } }
files["tests"] = { globals = { "Net" } }
files["examples/nets"] = { globals = { "Net" }, read_globals = { "nn" } }  -- candidate programs
files["tests/arch_nets"] = { globals = { "Net" }, read_globals = { "nn" } }
