// Rebuilds a game page's partials from the server's live "render" messages (src/live/patch.ts):
// each partial is kept as a tree of template ids and values; a message carries the fixed text of
// new templates and only the values that changed. The page then gets the same HTML it would
// have been sent in full, and htmx morphs it in as before.
//
// A page holds two sets of trees: its own (the parts only its viewer sees: the actions, the end
// box, the reachable tiles) and the game's stream (the parts every viewer shares, sent once per
// state to every page of the game: "g" in a message). Shared trees hold marks that differ by
// viewer ({m: seat, y, n}: resolved with the page's seat, "me") and slots ({slot: target}: filled
// from the page's own tree of that target, whose host partial is the part before "~").
//
// The fixed text of the release's templates comes from a script the page caches
// (MinotaurTemplates, src/live/template-script.ts): a page that holds it says so when it opens
// its socket (?templates=VERSION) and is sent only the fixed text of templates outside it.
//
// A classic script with no DOM access, so the benchmark and the tests run the very same code:
// it defines globalThis.MinotaurLive.
(function (root) {
  'use strict';

  /** Trees, long texts and kept values of one differ (the page's own, or the stream's). */
  function Space() {
    this.trees = Object.create(null);
    this.words = [];
    this.kept = Object.create(null);
  }

  /** `table`: the release's templates ({v: version, s: [fixed texts by id]}), or nothing. */
  function LivePage(table) {
    this.table = table && typeof table.v === 'string' && Array.isArray(table.s) ? table : null;
    this.reset();
  }

  /**
   * A new connection (possibly to another server): the ids of templates outside the table start
   * over (a server of another release sends every template it uses, which then takes the place
   * of the table's).
   */
  LivePage.prototype.reset = function () {
    this.own = new Space();
    this.stream = new Space();
    this.statics = Object.create(this.table ? this.table.s : null);
    this.me = -1;
    // The page's own trees, also as `trees` (what tests and tools read).
    this.trees = this.own.trees;
  };

  /** The version of the table this reader holds, for the socket's ?templates=, or null. */
  LivePage.prototype.tableVersion = function () {
    return this.table ? this.table.v : null;
  };

  /**
   * The tree messages this reader understands (src/live/live-socket.ts, PATCH_RENDER): the page
   * asks for them by this name when it opens a socket, so a reader of another release (a cached
   * script) is sent whole partials instead, which every release's page applies.
   */
  LivePage.FORMAT = 'patch2';

  /** True for a message this reader handles. */
  LivePage.isRender = function (text) {
    return typeof text === 'string' && text.lastIndexOf('{"type":"render"', 0) === 0;
  };

  /** Applies one render message; returns the targets (partial ids) it changed. */
  LivePage.prototype.update = function (text) {
    var msg = JSON.parse(text);
    var changed = [];
    var seen = Object.create(null);
    var add = function (target) {
      if (!seen[target]) {
        seen[target] = true;
        changed.push(target);
      }
    };
    var target;
    var g = msg.g;
    if (g) {
      var st = this.stream;
      if (g.r) {
        for (target in st.trees) add(target);
        st = this.stream = new Space();
        st.words = g.w || [];
        this.readStatics(g.t);
        for (var path in g.k) st.kept[path] = this.full(st, g.k[path]);
        for (target in g.p) {
          st.trees[target] = this.full(st, g.p[target]);
          add(target);
        }
      } else {
        this.readStatics(g.t);
        for (target in g.p) {
          st.trees[target] = this.change(st, target, st.trees[target], g.p[target]);
          add(target);
        }
      }
    }
    this.readStatics(msg.t);
    for (target in msg.p) {
      this.own.trees[target] = this.change(this.own, target, this.own.trees[target], msg.p[target]);
      var cut = target.indexOf('~');
      add(cut < 0 ? target : target.slice(0, cut));
    }
    // What the page now shows, as a token it sends back when it reconnects (src/sessions/seen.ts).
    if (typeof msg.v === 'string') this.seen = msg.v;
    if (msg.me !== undefined && msg.me !== this.me) {
      this.me = msg.me;
      for (target in this.stream.trees) add(target);
    }
    return changed;
  };

  LivePage.prototype.readStatics = function (t) {
    for (var id in t) this.statics[id] = t[id];
  };

  /** The HTML of one partial the page holds. */
  LivePage.prototype.partial = function (target) {
    var tree = target in this.stream.trees ? this.stream.trees[target] : this.own.trees[target];
    return this.html(tree);
  };

  /** Applies one render message; returns [target, html] of every partial it changed. */
  LivePage.prototype.apply = function (text) {
    var changed = this.update(text);
    var out = [];
    for (var i = 0; i < changed.length; i++) out.push([changed[i], this.partial(changed[i])]);
    return out;
  };

  /** The HTML of one partial as the server would send it: <hx-partial> elements. */
  LivePage.partials = function (changed) {
    var s = '';
    for (var i = 0; i < changed.length; i++)
      s +=
        '<hx-partial hx-target="#' +
        changed[i][0] +
        '" hx-swap="innerMorph">' +
        changed[i][1] +
        '</hx-partial>';
    return s;
  };

  LivePage.prototype.change = function (sp, path, cur, ch) {
    if (typeof ch === 'string') return ch;
    if (Array.isArray(ch)) return this.full(sp, ch);
    if (ch.$ !== undefined || ch['@'] !== undefined || ch.s !== undefined) return this.full(sp, ch);
    var base = ch.p ? sp.kept[path] : cur;
    if (ch.k) sp.kept[path] = cur;
    if (ch.t !== undefined) return this.full(sp, ch);
    var d = ch.d || {};
    var i;
    if (ch.n !== undefined) {
      var src = Array.isArray(base) ? base : [];
      var list = new Array(ch.n);
      for (i = 0; i < ch.n; i++) {
        var c = ch.a !== undefined ? ch.a : d[i];
        if (c !== undefined && c['='] !== undefined) c = d[c['=']];
        if (c !== undefined && c['<'] !== undefined) {
          // Items the list held at other indexes, in order: {"<": first, "l": how many}.
          var end = Math.min(ch.n, i + (c.l || 1));
          for (var from = c['<'] - i; i < end; i++) list[i] = src[i + from];
          i--;
          continue;
        }
        list[i] = c === undefined ? src[i] : this.change(sp, path + '.' + i, src[i], c);
      }
      return list;
    }
    var dyns = base.d.slice();
    for (var k in d) dyns[k] = this.change(sp, path + '.' + k, base.d[k], d[k]);
    return { t: base.t, d: dyns };
  };

  /** A long text: kept the first time ({$, v}), then sent as its id ({$}). */
  LivePage.prototype.word = function (sp, w) {
    if (w.v !== undefined) sp.words[w.$] = w.v;
    return sp.words[w.$];
  };

  LivePage.prototype.full = function (sp, f) {
    if (typeof f === 'string') return f;
    if (f.$ !== undefined) return this.word(sp, f);
    if (Array.isArray(f)) {
      var items = new Array(f.length);
      for (var i = 0; i < f.length; i++) items[i] = this.full(sp, f[i]);
      return items;
    }
    if (f['@'] !== undefined) return { m: f['@'], y: this.full(sp, f.y), n: this.full(sp, f.n) };
    if (f.s !== undefined) return { slot: f.s };
    var d = new Array(f.d.length);
    for (var j = 0; j < f.d.length; j++) d[j] = this.full(sp, f.d[j]);
    return { t: f.t, d: d };
  };

  LivePage.prototype.html = function (tree) {
    if (typeof tree === 'string') return tree;
    if (tree === undefined) return '';
    var out = '';
    var i;
    if (Array.isArray(tree)) {
      for (i = 0; i < tree.length; i++) out += this.html(tree[i]);
      return out;
    }
    if (tree.m !== undefined)
      return this.html((tree.m === 'seated' ? this.me >= 0 : tree.m === this.me) ? tree.y : tree.n);
    if (tree.slot !== undefined) return this.html(this.own.trees[tree.slot]);
    var s = this.statics[tree.t];
    out = s[0];
    for (i = 0; i < tree.d.length; i++) out += this.html(tree.d[i]) + s[i + 1];
    return out;
  };

  root.MinotaurLive = { LivePage: LivePage };
})(typeof window !== 'undefined' ? window : globalThis);
