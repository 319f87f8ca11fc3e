/* libFuzzer target: kchan against a reference model, single-threaded.
 *
 * The input bytes choose up to three channels (kind, small capacity, overflow policy, element
 * size, with or without on_undelivered, kchan_create / kchan_create_in / kchan_new, a name or
 * none) and then a sequence of operations on them: try_send/try_recv, *_timeout with 0 and with
 * a tiny positive timeout (nobody else runs, so it must time out; the first WAIT_BUDGET ops per
 * input that must wait really do, see TINY_NS), send_many/recv_many, peek,
 * close, close_with, cancel, stats, len, dump, biased selects (deterministic) and fair selects
 * (the model checks the winner was one of the ready cases), and a switch that makes every
 * allocation fail (only an unlimited send may then say KCHAN_NOMEM, storing nothing).
 *
 * The model (API.md) predicts every status, every received byte, every on_undelivered call (in
 * order, with its bytes), every kchan_stats field, kchan_len/cap/is_closed/close_reason and
 * the kchan_dump line; bounded, conflated and rendezvous channels must not allocate after
 * creation, and nothing may leak at the end. Any divergence prints the op and aborts.
 * Built by `make fuzz` (tests/reliability.mk) with -fsanitize=fuzzer,address,undefined. */
#include "../../kchan.h"
#include "../alloc_hooks.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#  include <sys/prctl.h>
#endif

#define MAX_CHANS 3
#define MAX_OPS 1500
#define MAX_ES 300            /* largest element size the fuzzer uses (257 probes KCHAN_EVICT_MAX) */
#define MAX_BATCH 12
/* A positive timeout that must expire (single thread). 1 ns, not 2 us: the op still counts as
   blocked, registers, parks, times out and withdraws, but its deadline has passed by the first
   look at the clock, so it does not sched_yield until then (the lock-free engine yields up to
   100 times, and on a loaded machine each yield can hand the core away for a time slice). */
#define TINY_NS 1
/* Even so an expiring wait is a futex call that times out (10-30 us in this VM, most of the
   fuzzer's CPU time when inputs were full of them). The first WAIT_BUDGET ops per input that
   the model says must wait really wait for their tiny timeout; later ones in the same input
   run with timeout 0 (WOULDBLOCK, send_full/recv_empty: every one still checked against the
   model). Tiny-timeout ops that need not wait always run as they are. */
#define WAIT_BUDGET 2
#define CANARY 0xA5

/* ---- input ------------------------------------------------------------------------------ */
static const uint8_t *in_p;
static size_t in_n;
static uint8_t next_byte(void)
{
    if (!in_n) return 0;
    in_n--;
    return *in_p++;
}

/* ---- failure reporting -------------------------------------------------------------------- */
/* What is running, described only when a check fails: formatting it before every op (and a
   label before every stats field) took about half the fuzzer's CPU time. */
enum { PH_CREATE, PH_OP, PH_DESTROY };
static struct { int phase, ci, variant; unsigned op, arg; } cur;
static long cur_op_no;
static const char *cur_op(void);
#define FAIL(...) do { fprintf(stderr, "fuzz_model: op #%ld [%s]: ", cur_op_no, cur_op()); \
                       fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)
#define CHECK_EQ(what, got, want) do { long long g_ = (long long)(got), w_ = (long long)(want); \
        if (g_ != w_) FAIL("%s: got %lld, model says %lld", (what), g_, w_); } while (0)

/* ---- element contents: a deterministic function of a value id ----------------------------- */
static void fill(uint8_t *dst, size_t es, uint32_t id)
{
    uint32_t x = id * 2654435761u + 0x9e3779b9u;
    for (size_t j = 0; j < es; j++) {
        x ^= x << 13; x ^= x >> 17; x ^= x << 5;
        dst[j] = (uint8_t)(x + id + j);
    }
}

/* ---- the model ------------------------------------------------------------------------------ */
enum { K_RDV, K_BOUNDED, K_UNLIMITED, K_CONFLATED };

typedef struct {
    kchan_t *c;
    int kind, policy;
    size_t cap, es;
    int has_cb;
    const char *name;
    uint8_t *mem;              /* create_in storage, or NULL */
    uint32_t *q;               /* buffered ids, FIFO: q[qh .. qh+len) */
    size_t qh, len, qalloc;
    int closed, reason;
    kchan_stats st;            /* expected counters (len, cap, closed kept in sync) */
} mchan;

static mchan ch[MAX_CHANS];
static int nch;
static uint32_t next_id;
static int fail_mode;          /* every allocation fails */
static int waits_left;         /* WAIT_BUDGET, per input */

/* May an op with a tiny timeout that the model says must wait (would_wait) keep it? */
static int keep_tiny(int would_wait)
{
    if (!would_wait) return 1;
    if (waits_left <= 0) return 0;
    waits_left--;
    return 1;
}

static const char *cur_op(void)
{
    static char buf[160];
    const mchan *d = &ch[cur.ci];
    if (cur.phase == PH_CREATE)
        snprintf(buf, sizeof buf, "create chan %d kind=%d cap=%zu policy=%d es=%zu cb=%d variant=%d",
                 cur.ci, d->kind, d->cap, d->policy, d->es, d->has_cb, cur.variant);
    else if (cur.phase == PH_DESTROY)
        snprintf(buf, sizeof buf, "destroy chan %d", cur.ci);
    else
        snprintf(buf, sizeof buf, "op %u arg %u on chan %d (kind %d cap %zu policy %d es %zu)",
                 cur.op, cur.arg, cur.ci, d->kind, d->cap, d->policy, d->es);
    return buf;
}

/* on_undelivered: the model queues the calls it expects (chan, id); the callback logs what it
   gets (chan, bytes); check_cbs compares the two logs after every op, in order. */
typedef struct { int chan; uint32_t id; } cbrec;
typedef struct { int chan; int null_elem; uint8_t bytes[MAX_ES]; } cbgot;
#define CB_MAX (4 * MAX_OPS * MAX_BATCH)
static cbrec cb_expect[CB_MAX];
static cbgot *cb_got;
static size_t cb_exp_n, cb_seen_n;
static int in_destroy;

static void on_undelivered(void *elem, void *user)
{
    mchan *m = (mchan *)user;
    int ci = (int)(m - ch);
    if (cb_seen_n >= CB_MAX) FAIL("too many on_undelivered calls");
    cbgot *g = &cb_got[cb_seen_n++];
    g->chan = ci;
    g->null_elem = elem == NULL;
    if (elem && m->es) memcpy(g->bytes, elem, m->es);
    if (!in_destroy) {
        /* Never called under a kchan lock: taking it again here must not deadlock. */
        uint8_t tmp[MAX_ES + 1];
        int r = kchan_peek(m->c, tmp);
        if (r != KCHAN_OK && r != KCHAN_WOULDBLOCK && r != KCHAN_CLOSED) FAIL("peek inside on_undelivered: %d", r);
        if (kchan_len(m->c) > (m->kind == K_UNLIMITED ? SIZE_MAX : m->kind == K_RDV ? 0 : m->kind == K_CONFLATED ? 1 : m->cap))
            FAIL("len above cap inside on_undelivered");
    }
}

static void expect_cb(int ci, uint32_t id)
{
    if (!ch[ci].has_cb) return;
    if (cb_exp_n >= CB_MAX) FAIL("model: too many expected on_undelivered calls");
    cb_expect[cb_exp_n].chan = ci;
    cb_expect[cb_exp_n].id = id;
    cb_exp_n++;
}

static void q_push(mchan *m, uint32_t id)
{
    if (m->qh + m->len == m->qalloc) {
        if (m->qh > 0) { memmove(m->q, m->q + m->qh, m->len * sizeof *m->q); m->qh = 0; }
        else {
            m->qalloc = m->qalloc ? m->qalloc * 2 : 16;
            m->q = realloc(m->q, m->qalloc * sizeof *m->q);
            if (!m->q) abort();
        }
    }
    m->q[m->qh + m->len++] = id;
    m->st.len = m->len;
    if (m->len > m->st.max_len) m->st.max_len = m->len;
}
static uint32_t q_pop(mchan *m)
{
    uint32_t id = m->q[m->qh++];
    m->len--;
    if (m->len == 0) m->qh = 0;
    m->st.len = m->len;
    return id;
}

/* What a send that does not wait would do right now (no partner ever waits here). */
static int m_send_status(const mchan *m)
{
    if (m->closed) return KCHAN_CLOSED;
    switch (m->kind) {
    case K_RDV: return KCHAN_WOULDBLOCK;
    case K_BOUNDED: return (m->len < m->cap || m->policy != KCHAN_BLOCK) ? KCHAN_OK : KCHAN_WOULDBLOCK;
    default: return KCHAN_OK;
    }
}
/* Apply an accepted send of id. */
static void m_store(int ci, uint32_t id)
{
    mchan *m = &ch[ci];
    m->st.sends++;
    if (m->kind == K_BOUNDED && m->len == m->cap && m->policy == KCHAN_DROP_NEWEST) {
        m->st.drops_newest++;
        expect_cb(ci, id);
        return;
    }
    if ((m->kind == K_BOUNDED && m->len == m->cap) || (m->kind == K_CONFLATED && m->len == 1)) {
        uint32_t old = q_pop(m);                 /* drop-oldest or conflated */
        m->st.drops_oldest++;
        expect_cb(ci, old);
    }
    q_push(m, id);
}
static int m_recv_status(const mchan *m)
{
    if (m->len) return KCHAN_OK;
    return m->closed ? KCHAN_CLOSED : KCHAN_WOULDBLOCK;
}

/* ---- checks ------------------------------------------------------------------------------------ */
/* The lock-free engine samples an unlimited channel's max_len (kchan.h, kchan__list_pop):
   never above the model's true high-water mark, never below len, less than a segment (31)
   short. Such a channel's reported value is checked against those bounds and then used. */
static int max_len_sampled(const mchan *m)
{
#ifdef KCHAN_LOCKFREE
    return m->kind == K_UNLIMITED && m->es > 0;
#else
    (void)m;
    return 0;
#endif
}
static size_t reported_max_len(const mchan *m, size_t got)
{
    if (!max_len_sampled(m)) return m->st.max_len;
    if (got > m->st.max_len || got < m->len || m->st.max_len - got >= 31)
        FAIL("sampled max_len %zu: true high-water mark %zu, len %zu", got, (size_t)m->st.max_len, m->len);
    return got;
}

static void check_chan(int ci)
{
    mchan *m = &ch[ci];
    kchan_stats s;
    kchan_stats_get(m->c, &s);
    if (max_len_sampled(m)) {                  /* within its bounds: then as the model */
        (void)reported_max_len(m, s.max_len);
        s.max_len = m->st.max_len;
    }
#define F(f) do { if ((long long)s.f != (long long)m->st.f) \
                      FAIL("chan %d stats.%s: got %lld, model says %lld", ci, #f, (long long)s.f, (long long)m->st.f); \
              } while (0)
    F(version); F(sends); F(recvs); F(drops_newest); F(drops_oldest); F(undelivered); F(send_full);
    F(recv_empty); F(timeouts); F(cancelled_waiters); F(blocked_sends); F(blocked_recvs); F(len);
    F(cap); F(max_len); F(waiting_senders); F(waiting_receivers); F(closed);
#undef F
    CHECK_EQ("kchan_len", kchan_len(m->c), m->len);
    CHECK_EQ("kchan_cap", kchan_cap(m->c), m->st.cap);
    CHECK_EQ("kchan_is_closed", kchan_is_closed(m->c), m->closed);
    CHECK_EQ("kchan_close_reason", kchan_close_reason(m->c), m->closed ? m->reason : 0);
    if (s.sends != s.recvs + s.drops_newest + s.drops_oldest + s.undelivered + s.len)
        FAIL("chan %d: conservation broken", ci);
}
static void check_cbs(void)
{
    if (cb_seen_n != cb_exp_n) FAIL("on_undelivered ran %zu times in all, model expects %zu", cb_seen_n, cb_exp_n);
    for (size_t i = 0; i < cb_exp_n; i++) {
        const cbrec *e = &cb_expect[i];
        const cbgot *g = &cb_got[i];
        const mchan *m = &ch[e->chan];
        if (g->chan != e->chan) FAIL("on_undelivered call %zu: channel %d, model expects %d", i, g->chan, e->chan);
        if (m->es == 0) {
            if (!g->null_elem) FAIL("on_undelivered call %zu: non-NULL element on a zero-size channel", i);
        } else {
            uint8_t want[MAX_ES];
            if (g->null_elem) FAIL("on_undelivered call %zu: NULL element, size %zu", i, m->es);
            fill(want, m->es, e->id);
            if (memcmp(g->bytes, want, m->es) != 0) FAIL("on_undelivered call %zu: bytes differ from value id %u", i, e->id);
        }
    }
    cb_exp_n = cb_seen_n = 0;
}
static void check_elem(const mchan *m, const uint8_t *got, uint32_t id, const char *what)
{
    uint8_t want[MAX_ES];
    fill(want, m->es, id);
    if (m->es && memcmp(got, want, m->es) != 0) FAIL("%s: element bytes differ from value id %u", what, id);
}
/* One memcmp against canary bytes, not a byte loop: under -fsanitize=fuzzer every byte's
   compare was a coverage callback, ~10% of the run on recv_many's 3.6 KB buffer. */
static uint8_t canaries[MAX_BATCH * MAX_ES + 64];
static void check_canary(const uint8_t *p, size_t from, size_t to, const char *what)
{
    if (from >= to) return;
    if (!canaries[0]) memset(canaries, CANARY, sizeof canaries);
    if (to - from > sizeof canaries) FAIL("%s: canary range %zu..%zu too long", what, from, to);
    if (memcmp(p + from, canaries, to - from) == 0) return;
    for (size_t i = from; i < to; i++)
        if (p[i] != CANARY) FAIL("%s: byte %zu written beyond what was returned", what, i);
}

/* ---- channel creation --------------------------------------------------------------------- */
static const size_t es_choices[] = { 0, 1, 2, 3, 4, 8, 16, 24, 257 };
static const char *const names[] = { NULL, "fz", "a b=c", NULL };

static void make_chan(int ci)
{
    mchan *m = &ch[ci];
    memset(m, 0, sizeof *m);
    uint8_t b0 = next_byte(), b1 = next_byte(), b2 = next_byte();
    m->kind = b0 & 3;
    int variant = (b0 >> 2) & 3;       /* 0,1 create; 2 create_in; 3 kchan_new */
    int bad_policy = (b0 >> 4) & 1;    /* keep a policy on a non-bounded kind: must be INVAL
                                          (but drop-oldest on conflated, which is what it does) */
    m->cap = 1 + (b1 & 7);
    m->policy = (b1 >> 3) % 3;
    m->es = es_choices[((b1 >> 5) | ((b2 & 1) << 3)) % 9];
    m->has_cb = (b2 >> 1) & 1;
    m->name = names[(b2 >> 2) & 3];
    if (m->kind != K_BOUNDED && !bad_policy) m->policy = KCHAN_BLOCK;
    if (variant == 3) { m->policy = KCHAN_BLOCK; m->has_cb = 0; m->name = NULL; }

    size_t capv = m->kind == K_RDV ? KCHAN_RENDEZVOUS : m->kind == K_BOUNDED ? m->cap
                : m->kind == K_UNLIMITED ? KCHAN_UNLIMITED : KCHAN_CONFLATED;
    kchan_opts o;
    memset(&o, 0, sizeof o);
    o.capacity = capv;
    o.overflow = (kchan_overflow)m->policy;
    o.on_undelivered = m->has_cb ? on_undelivered : NULL;
    o.user = m;
    o.name = m->name;

    int want = KCHAN_OK;
    if (m->kind != K_BOUNDED && m->policy != KCHAN_BLOCK &&
        !(m->kind == K_CONFLATED && m->policy == KCHAN_DROP_OLDEST)) want = KCHAN_INVAL;
    if ((m->kind == K_CONFLATED || (m->kind == K_BOUNDED && m->policy == KCHAN_DROP_OLDEST)) &&
        m->has_cb && m->es > 256) want = KCHAN_INVAL;
    if (variant == 2 && m->kind == K_UNLIMITED) want = KCHAN_INVAL;
    cur.phase = PH_CREATE;
    cur.ci = ci;
    cur.variant = variant;

    int r;
    kchan_t *c = (kchan_t *)(uintptr_t)1;
    if (variant == 3) {
        c = kchan_new(m->es, capv);
        r = c ? KCHAN_OK : KCHAN_INVAL;
    } else if (variant == 2) {
        size_t fp = KCHAN_FOOTPRINT(m->es, capv), off = b2 >> 4;
        if (m->kind == K_UNLIMITED) fp = 64;
        m->mem = malloc(fp + 16);
        if (!m->mem) abort();
        r = kchan_create_in(&c, m->mem + off, fp, m->es, &o);
    } else {
        r = kchan_create(&c, m->es, &o);
    }
    CHECK_EQ("create status", r, want);
    if (r != KCHAN_OK) {
        if (c != NULL) FAIL("failed create left *out non-NULL");
        free(m->mem);
        m->mem = NULL;
        /* fall back to a valid channel of the same kind */
        m->policy = m->kind == K_BOUNDED ? m->policy : KCHAN_BLOCK;
        if (m->es > 256) m->es = 8;
        o.overflow = (kchan_overflow)m->policy;
        r = kchan_create(&c, m->es, &o);
        CHECK_EQ("fallback create status", r, KCHAN_OK);
    }
    m->c = c;
    m->st.version = KCHAN_STATS_VERSION;
    m->st.cap = m->kind == K_RDV ? 0 : m->kind == K_BOUNDED ? m->cap : m->kind == K_UNLIMITED ? KCHAN_UNLIMITED : 1;
    check_chan(ci);
}

/* ---- dump ------------------------------------------------------------------------------------ */
static void check_dump(int ci, size_t n)
{
    mchan *m = &ch[ci];
    static const char *const kinds[] = { "rendezvous", "bounded", "unlimited", "conflated" };
    static const char *const pols[] = { "block", "drop_newest", "drop_oldest" };
    char want[1024], got[1024], nm[64];
    if (m->name) {
        size_t i = 0;
        for (; m->name[i] && i < sizeof nm - 1; i++) nm[i] = (m->name[i] == ' ' || m->name[i] == '=') ? '_' : m->name[i];
        nm[i] = 0;
    } else {
        snprintf(nm, sizeof nm, "0x%" PRIxPTR, (uintptr_t)m->c);
    }
    char capstr[32];
    if (m->kind == K_UNLIMITED) snprintf(capstr, sizeof capstr, "unlimited");
    else snprintf(capstr, sizeof capstr, "%zu", (size_t)m->st.cap);
    const kchan_stats *s = &m->st;
    kchan_stats now;
    kchan_stats_get(m->c, &now);
    size_t max_len = reported_max_len(m, now.max_len);
    int len = snprintf(want, sizeof want,
        "chan=%s kind=%s policy=%s cap=%s len=%zu max_len=%zu sends=%" PRIu64 " recvs=%" PRIu64
        " drops_newest=%" PRIu64 " drops_oldest=%" PRIu64 " undelivered=%" PRIu64 " send_full=%" PRIu64
        " recv_empty=%" PRIu64 " timeouts=%" PRIu64 " cancelled_waiters=%" PRIu64 " blocked_sends=%" PRIu64
        " blocked_recvs=%" PRIu64 " waiting_senders=0 waiting_receivers=0 state=%s",
        nm, kinds[m->kind], pols[m->kind == K_CONFLATED ? KCHAN_DROP_OLDEST : m->policy], capstr, s->len, max_len, s->sends, s->recvs,
        s->drops_newest, s->drops_oldest, s->undelivered, s->send_full, s->recv_empty, s->timeouts,
        s->cancelled_waiters, s->blocked_sends, s->blocked_recvs, m->closed ? "closed" : "open");
    memset(got, CANARY, sizeof got);
    int r = kchan_dump(m->c, n ? got : NULL, n);
    CHECK_EQ("dump return", r, len);
    if (n) {
        size_t k = (size_t)len < n ? (size_t)len : n - 1;
        if (memcmp(got, want, k) != 0 || got[k] != 0)
            FAIL("dump line differs:\n  got  '%.*s'\n  want '%s'", (int)k, got, want);
        check_canary((const uint8_t *)got, n, sizeof got, "dump");
    }
}

/* ---- ops ------------------------------------------------------------------------------------------ */
static int allowed_nomem(const mchan *m) { return fail_mode && m->kind == K_UNLIMITED && !m->closed; }

static void op_send(int ci, int tmo)     /* tmo: 0 try, 1 _timeout(0), 2 _timeout(tiny) */
{
    mchan *m = &ch[ci];
    uint8_t e[MAX_ES + 1];
    uint32_t id = next_id++;
    fill(e, m->es, id);
    int want = m_send_status(m);
    if (tmo == 2 && !keep_tiny(want == KCHAN_WOULDBLOCK)) tmo = 1;
    int r = tmo == 0 ? kchan_try_send(m->c, e)
          : kchan_send_timeout(m->c, e, tmo == 1 ? 0 : TINY_NS);
    if (r == KCHAN_NOMEM && want == KCHAN_OK && allowed_nomem(m)) return;   /* nothing stored */
    if (want == KCHAN_WOULDBLOCK && tmo == 2) want = KCHAN_TIMEDOUT;
    CHECK_EQ("send status", r, want);
    if (r == KCHAN_OK) m_store(ci, id);
    else if (r == KCHAN_WOULDBLOCK) m->st.send_full++;
    else if (r == KCHAN_TIMEDOUT) { m->st.blocked_sends++; m->st.timeouts++; }
}

static void op_recv(int ci, int tmo)
{
    mchan *m = &ch[ci];
    uint8_t out[MAX_ES + 8];
    memset(out, CANARY, sizeof out);
    int want = m_recv_status(m);
    if (tmo == 2 && !keep_tiny(want == KCHAN_WOULDBLOCK)) tmo = 1;
    int r = tmo == 0 ? kchan_try_recv(m->c, out) : kchan_recv_timeout(m->c, out, tmo == 1 ? 0 : TINY_NS);
    if (want == KCHAN_WOULDBLOCK && tmo == 2) want = KCHAN_TIMEDOUT;
    CHECK_EQ("recv status", r, want);
    if (r == KCHAN_OK) {
        uint32_t id = q_pop(m);
        m->st.recvs++;
        check_elem(m, out, id, "recv");
        check_canary(out, m->es, sizeof out, "recv");
    } else {
        check_canary(out, 0, sizeof out, "failed recv");
        if (r == KCHAN_WOULDBLOCK) m->st.recv_empty++;
        if (r == KCHAN_TIMEDOUT) { m->st.blocked_recvs++; m->st.timeouts++; }
    }
}

static void op_send_many(int ci, size_t n, int tiny)
{
    mchan *m = &ch[ci];
    uint8_t buf[MAX_BATCH * MAX_ES + 1];
    uint32_t ids[MAX_BATCH];
    for (size_t i = 0; i < n; i++) { ids[i] = next_id++; fill(buf + i * m->es, m->es, ids[i]); }
    size_t sent = 12345;
    if (tiny) {                        /* it waits if the channel cannot take all n now */
        int block_kind = m->kind == K_RDV || (m->kind == K_BOUNDED && m->policy == KCHAN_BLOCK);
        tiny = keep_tiny(!m->closed && n > 0 && block_kind && m->len + n > (m->kind == K_RDV ? 0 : m->cap));
    }
    int r = kchan_send_many(m->c, n || m->es == 0 ? buf : NULL, n, &sent, tiny ? TINY_NS : 0);
    if (sent > n) FAIL("send_many: *sent %zu > n %zu", sent, n);
    size_t i = 0;
    int want = KCHAN_OK;
    for (; i < n; i++) {
        want = m_send_status(m);
        if (want != KCHAN_OK) break;
        if (i == sent && r == KCHAN_NOMEM && allowed_nomem(m)) { want = KCHAN_NOMEM; break; }
        m_store(ci, ids[i]);
    }
    if (i == n) want = KCHAN_OK;
    if (want == KCHAN_WOULDBLOCK && tiny) want = KCHAN_TIMEDOUT;
    CHECK_EQ("send_many status", r, want);
    CHECK_EQ("send_many *sent", sent, i);
    if (r == KCHAN_WOULDBLOCK) m->st.send_full++;
    if (r == KCHAN_TIMEDOUT) { m->st.blocked_sends++; m->st.timeouts++; }
}

static void op_recv_many(int ci, size_t max, int tiny)
{
    mchan *m = &ch[ci];
    uint8_t out[MAX_BATCH * MAX_ES + 64];
    memset(out, CANARY, sizeof out);
    size_t got = 12345;
    if (tiny) tiny = keep_tiny(max > 0 && m_recv_status(m) == KCHAN_WOULDBLOCK);
    int r = kchan_recv_many(m->c, out, max, &got, tiny ? TINY_NS : 0);
    if (max == 0) { CHECK_EQ("recv_many(max 0)", r, KCHAN_INVAL); CHECK_EQ("recv_many *got", got, 0); return; }
    int want = m_recv_status(m);
    if (want == KCHAN_WOULDBLOCK && tiny) want = KCHAN_TIMEDOUT;
    CHECK_EQ("recv_many status", r, want);
    size_t k = 0;
    if (r == KCHAN_OK) {
        for (; k < max && m->len; k++) {
            check_elem(m, out + k * m->es, q_pop(m), "recv_many");
            m->st.recvs++;
        }
    } else if (r == KCHAN_WOULDBLOCK) m->st.recv_empty++;
    else if (r == KCHAN_TIMEDOUT) { m->st.blocked_recvs++; m->st.timeouts++; }
    CHECK_EQ("recv_many *got", got, k);
    check_canary(out, k * m->es, sizeof out, "recv_many");
}

static void op_peek(int ci)
{
    mchan *m = &ch[ci];
    uint8_t out[MAX_ES + 8];
    memset(out, CANARY, sizeof out);
    int want = m_recv_status(m);
    int r = kchan_peek(m->c, out);
    CHECK_EQ("peek status", r, want);
    if (r == KCHAN_OK) { check_elem(m, out, m->q[m->qh], "peek"); check_canary(out, m->es, sizeof out, "peek"); }
    else check_canary(out, 0, sizeof out, "failed peek");
}

static void op_close(int ci, int how, int reason)   /* 0 close, 1 close_with, 2 cancel */
{
    mchan *m = &ch[ci];
    int want = m->closed ? KCHAN_CLOSED : KCHAN_OK;
    int r = how == 0 ? kchan_close(m->c) : how == 1 ? kchan_close_with(m->c, reason) : kchan_cancel(m->c);
    if (!m->closed) { m->closed = 1; m->reason = how == 1 ? reason : 0; m->st.closed = true; }
    if (how == 2) {
        while (m->len) { expect_cb(ci, q_pop(m)); m->st.undelivered++; }
    }
    CHECK_EQ("close status", r, want);
}

/* Select over up to 4 cases, timeout 0 or tiny; biased (deterministic) or fair (winner must be
   one of the ready cases). */
typedef struct { int ci; int op; } mcase;
static void op_select(const mcase *mc, size_t n, int biased, int tiny, int bad)
{
    kchan_case cs[4];
    uint8_t bufs[4][MAX_ES + 8];
    uint32_t ids[4];
    int ready[4], nready = 0;
    int saved_fail = fail_mode;
    if (fail_mode) { test_alloc_fail_at(0, 0); fail_mode = 0; }
    for (size_t i = 0; i < n; i++) {
        memset(bufs[i], CANARY, sizeof bufs[i]);
        cs[i].chan = mc[i].ci >= 0 ? ch[mc[i].ci].c : NULL;
        cs[i].op = mc[i].op;
        cs[i].elem = bufs[i];
        cs[i].status = -99;
        ready[i] = 0;
        if (mc[i].op == KCHAN_OP_SEND) { ids[i] = next_id++; if (mc[i].ci >= 0) fill(bufs[i], ch[mc[i].ci].es, ids[i]); }
        if (mc[i].ci < 0) continue;
        const mchan *m = &ch[mc[i].ci];
        int st = mc[i].op == KCHAN_OP_SEND ? m_send_status(m) : m_recv_status(m);
        if (st != KCHAN_WOULDBLOCK) { ready[i] = 1; nready++; }
    }
    if (bad && n) {                              /* an invalid case: the whole select is INVAL */
        size_t i = (size_t)bad % n;
        if (bad & 1) cs[i].op = 3;
        else if (mc[i].ci >= 0 && ch[mc[i].ci].es) cs[i].elem = NULL;
        else cs[i].op = 0;
    }
    if (tiny) tiny = keep_tiny(!(bad && n) && nready == 0);
    int r = biased ? kchan_select_biased(n ? cs : NULL, n, tiny ? TINY_NS : 0)
                   : kchan_select(n ? cs : NULL, n, tiny ? TINY_NS : 0);
    if (bad && n) {
        CHECK_EQ("invalid select", r, KCHAN_INVAL);
        for (size_t i = 0; i < n; i++) CHECK_EQ("invalid select: case status", cs[i].status, -99);
        goto out;
    }
    if (nready == 0) {
        int any = 0;
        for (size_t i = 0; i < n; i++) {
            if (mc[i].ci < 0) continue;
            any = 1;
            if (tiny) ch[mc[i].ci].st.cancelled_waiters++;
        }
        (void)any;
        CHECK_EQ("select (nothing ready)", r, tiny ? KCHAN_TIMEDOUT : KCHAN_WOULDBLOCK);
        for (size_t i = 0; i < n; i++) {
            CHECK_EQ("select: untouched case status", cs[i].status, -99);
            if (mc[i].op == KCHAN_OP_RECV) check_canary(bufs[i], 0, sizeof bufs[i], "select: losing recv case");
        }
        goto out;
    }
    if (r < 0 || (size_t)r >= n) FAIL("select returned %d with %d ready cases", r, nready);
    if (!ready[r]) FAIL("select chose case %d, which was not ready", r);
    if (biased) for (int i = 0; i < r; i++) if (ready[i]) FAIL("biased select chose %d, but %d was ready first", r, i);
    for (size_t i = 0; i < n; i++) {
        if ((int)i == r) continue;
        CHECK_EQ("select: losing case status", cs[i].status, -99);
        if (mc[i].op == KCHAN_OP_RECV) check_canary(bufs[i], 0, sizeof bufs[i], "select: losing recv case");
    }
    {
        int ci = mc[r].ci;
        mchan *m = &ch[ci];
        if (mc[r].op == KCHAN_OP_SEND) {
            int st = m_send_status(m);
            CHECK_EQ("select send case status", cs[r].status, st);
            if (st == KCHAN_OK) m_store(ci, ids[r]);
        } else {
            int st = m_recv_status(m);
            CHECK_EQ("select recv case status", cs[r].status, st);
            if (st == KCHAN_OK) {
                check_elem(m, bufs[r], q_pop(m), "select recv");
                m->st.recvs++;
                check_canary(bufs[r], m->es, sizeof bufs[r], "select recv");
            } else check_canary(bufs[r], 0, sizeof bufs[r], "select recv (closed)");
        }
    }
out:
    if (saved_fail) { test_alloc_fail_at(1, 1); fail_mode = 1; }
}

static void destroy_all(void)
{
    in_destroy = 1;
    for (int ci = 0; ci < nch; ci++) {
        mchan *m = &ch[ci];
        cur.phase = PH_DESTROY;
        cur.ci = ci;
        while (m->len) expect_cb(ci, q_pop(m));
        kchan_destroy(m->c);
        check_cbs();
        free(m->mem);
        free(m->q);
        m->c = NULL;
    }
    in_destroy = 0;
}

/* An op with a tiny timeout that must expire parks in the kernel until its deadline, and the
   kernel's default timer slack (50 us) lets that sleep run ~70 us: with a few of them per
   input that was most of the fuzzer's wall time. One nanosecond of slack makes the same
   expiring waits take ~15 us; the ops and what is checked are unchanged. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc; (void)argv;
#ifdef __linux__
    (void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
#endif
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    in_p = data;
    in_n = size;
    next_id = 1;
    cb_exp_n = cb_seen_n = 0;
    if (!cb_got && !(cb_got = malloc(CB_MAX * sizeof *cb_got))) abort();
    fail_mode = 0;
    waits_left = WAIT_BUDGET;
    test_alloc_fail_at(0, 0);
    int64_t live0 = test_alloc_live_blocks();
    cur_op_no = 0;

    nch = 1 + next_byte() % MAX_CHANS;
    for (int ci = 0; ci < nch; ci++) make_chan(ci);

    for (cur_op_no = 1; in_n && cur_op_no <= MAX_OPS; cur_op_no++) {
        uint8_t op = next_byte(), arg = next_byte();
        int ci = arg % nch;
        int64_t calls0 = test_alloc_calls();
        int touched_unlimited = ch[ci].kind == K_UNLIMITED;
        cur.phase = PH_OP;
        cur.ci = ci;
        cur.op = op % 32u;
        cur.arg = arg;
        switch (op % 32u) {
        case 0: case 1: case 2: op_send(ci, 0); break;
        case 3: case 4: case 5: op_recv(ci, 0); break;
        case 6: op_send(ci, 1); break;
        case 7: op_recv(ci, 1); break;
        case 8: op_send(ci, 2); break;
        case 9: op_recv(ci, 2); break;
        case 10: case 11: op_send_many(ci, (arg >> 2) % (MAX_BATCH + 1), 0); break;
        case 12: case 13: op_recv_many(ci, (arg >> 2) % (MAX_BATCH + 1), 0); break;
        case 14: op_send_many(ci, 1 + (arg >> 2) % MAX_BATCH, 1); break;
        case 15: op_recv_many(ci, 1 + (arg >> 2) % MAX_BATCH, 1); break;
        case 16: case 17: op_peek(ci); break;
        case 18: op_close(ci, 0, 0); break;
        case 19: op_close(ci, 1, (int)next_byte() - 128); break;
        case 20: op_close(ci, 2, 0); break;
        case 21: check_dump(ci, (size_t)next_byte() * 2); break;
        case 22: case 23: case 24: case 25: case 26: {
            uint8_t d = next_byte();
            size_t n = d & 3;                  /* 0..3 cases (+1 below for most) */
            if (op % 32u != 26) n++;
            mcase mc[4];
            for (size_t i = 0; i < n; i++) {
                uint8_t b = next_byte();
                mc[i].ci = (b & 3) == 3 ? -1 : (b & 3) % nch;
                mc[i].op = (b & 4) ? KCHAN_OP_SEND : KCHAN_OP_RECV;
                if (mc[i].ci >= 0 && ch[mc[i].ci].kind == K_UNLIMITED) touched_unlimited = 1;
            }
            int biased = op % 32u <= 23, tiny = (d >> 2) % 6 == 0, bad = (d >> 5) == 7 ? 1 + (d & 1) : 0;
            op_select(mc, n, biased, tiny, bad);
            break;
        }
        case 27:
            fail_mode = !fail_mode;            /* every allocation fails from now on, or none */
            test_alloc_fail_at(fail_mode ? 1 : 0, fail_mode);
            break;
        default: break;                        /* stats / len checks only */
        }
        check_cbs();
        for (int k = 0; k < nch; k++) check_chan(k);
        if (!touched_unlimited && test_alloc_calls() != calls0)
            FAIL("an op on a non-unlimited channel allocated (%lld calls)", (long long)(test_alloc_calls() - calls0));
    }
    test_alloc_fail_at(0, 0);
    destroy_all();
    if (test_alloc_live_blocks() != live0)
        FAIL("leak: %lld blocks still live after destroying every channel", (long long)(test_alloc_live_blocks() - live0));
    return 0;
}
