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

const char *train_kind(int code)
{
    switch (code) {
    case TRAIN_OK: return "ok";
    case TRAIN_ETOOLARGE: return "too_large";
    case TRAIN_EDIVERGED: return "diverged";
    case TRAIN_ETIMEOUT: return "timeout";
    case TRAIN_EINTERRUPTED: return "interrupted";
    case TRAIN_EDATA: return "data";
    case TRAIN_EUNSUPPORTED: return "unsupported";
    case TRAIN_EWORKER: return "crashed";
    case TRAIN_ESTOPPED: return "pruned";
    case TRAIN_ENOMEM: return "limit_memory";
    default: return "error";
    }
}
