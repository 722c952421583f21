/* train_status.c — error strings and status kinds of the trainer (train.h). */
#include "train/train.h"

const char *train_strerror(int code)
{
    switch (code) {
    case TRAIN_OK: return "TRAIN_OK: success";
    case TRAIN_EARG: return "TRAIN_EARG: bad argument";
    case TRAIN_ENOMEM: return "TRAIN_ENOMEM: out of memory";
    case TRAIN_EDNNL: return "TRAIN_EDNNL: oneDNN error";
    case TRAIN_EUNSUPPORTED: return "TRAIN_EUNSUPPORTED: unsupported op or attribute";
    case TRAIN_ETOOLARGE: return "TRAIN_ETOOLARGE: network over a size cap";
    case TRAIN_EDIVERGED: return "TRAIN_EDIVERGED: loss is not finite";
    case TRAIN_ETIMEOUT: return "TRAIN_ETIMEOUT: time limit reached";
    case TRAIN_EINTERRUPTED: return "TRAIN_EINTERRUPTED: interrupted";
    case TRAIN_EDATA: return "TRAIN_EDATA: dataset error";
    case TRAIN_EWORKER: return "TRAIN_EWORKER: the training worker failed";
    case TRAIN_ESTOPPED: return "TRAIN_ESTOPPED: stopped by the progress callback";
    default: return "TRAIN_E?: unknown error code";
    }
}

/* Every kind a training result can carry, with what the search does with it.
 * The first rows come from TRAIN_E* codes (train_kind); the worker adds its
 * own kinds for a child that died (worker.h lists them). */
static const train_kind_info kinds[] = {
    {"ok", TRAIN_OK, "ok", "trained and measured"},
    {"too_large", TRAIN_ETOOLARGE, "candidate", "over a params / FLOPs / activation cap"},
    {"diverged", TRAIN_EDIVERGED, "candidate", "the loss became NaN or Inf"},
    {"unsupported", TRAIN_EUNSUPPORTED, "candidate", "an op or attribute the trainer cannot run"},
    {"limit_memory", TRAIN_ENOMEM, "candidate", "out of memory (or killed by the OOM killer)"},
    {"error", TRAIN_EARG, "candidate", "the trainer refused the graph or a call failed"},
    {"timeout", TRAIN_ETIMEOUT, "transient", "over the time limit"},
    {"interrupted", TRAIN_EINTERRUPTED, "transient", "Ctrl-C"},
    {"crashed", TRAIN_EWORKER, "transient", "the training worker died"},
    {"data", TRAIN_EDATA, "fatal", "the dataset could not be loaded or does not fit"},
    {"limit_cpu", TRAIN_EWORKER, "candidate", "the worker used up its CPU-time limit"},
    {"pruned", TRAIN_ESTOPPED, "transient", "stopped early by the progress hook: not a full score"},
    {"killed", TRAIN_EWORKER, "transient", "the job was killed (job:kill(): the loop stopped or cancelled it)"},
    {"hook", TRAIN_EARG, "transient", "a job's progress hook raised: the candidate was stopped"},
};

int train_kind_count(void)
{
    return (int)(sizeof kinds / sizeof kinds[0]);
}

const train_kind_info *train_kind_at(int i)
{
    return i >= 0 && i < train_kind_count() ? &kinds[i] : NULL;
}

const char *train_kind(int code)
{
    /* the first row with the code; TRAIN_EDNNL and unknown codes are "error" */
    for (int i = 0; i < train_kind_count(); i++)
        if (kinds[i].code == code)
            return kinds[i].kind;
    return "error";
}
