/*
 * commands.h — the sub-commands of `llmnas`, one X-macro line each:
 *   LLMNAS_COMMAND(name, function, one-line summary)
 * function is `int function(int argc, char **argv)` with argv[0] = the command name;
 * it returns an exit code from sysexits.h. It lives in lua/cmd_<name>.c.
 */
LLMNAS_COMMAND("run", cmd_run, "run a search strategy script")
LLMNAS_COMMAND("check", cmd_check, "validate a candidate network: shapes, params, FLOPs")
LLMNAS_COMMAND("export", cmd_export, "export a candidate network as JSON, Lua or PyTorch")
LLMNAS_COMMAND("train", cmd_train, "train one candidate network and print its metrics")
LLMNAS_COMMAND("show", cmd_show, "show runs, leaderboards, histories and candidates from the memory")
LLMNAS_COMMAND("report", cmd_report, "write a self-contained HTML report of runs: figures, best network, records")
LLMNAS_COMMAND("plot", cmd_plot, "draw one figure of a run (history, pareto, status, ...) as PNG, SVG or PDF")
LLMNAS_COMMAND("serve", cmd_serve, "serve the live report of running and finished runs on 127.0.0.1 (read-only)")
LLMNAS_COMMAND("compare", cmd_compare, "compare search strategies at equal training compute, over seeds")
LLMNAS_COMMAND("predict", cmd_predict, "classify images with a model saved by train --save")
