// Rebuilds a game page's partials from the server's live "render" messages (src/live/patch.ts):
// each partial is kept as a tree of template ids and values; a message carries the fixed text of
// new templates and only the values that changed. The page then gets the same HTML it would
// have been sent in full, and htmx morphs it in as before.
//
// A classic script with no DOM access, so the benchmark and the tests run the very same code:
// it defines globalThis.MinotaurLive.
(function (root) {
  'use strict';

  function LivePage() {
    this.reset();
  }

  /** A new connection (possibly to another server): template ids start over. */
  LivePage.prototype.reset = function () {
    this.trees = Object.create(null);
    this.words = [];
    this.kept = Object.create(null);
    this.statics = Object.create(null);
  };

  /** True for a message this reader handles. */
  LivePage.isRender = function (text) {
    return typeof text === 'string' && text.lastIndexOf('{"type":"render"', 0) === 0;
  };

  /** Applies one render message; returns the targets (partial ids) it changed. */
  LivePage.prototype.update = function (text) {
    var msg = JSON.parse(text);
    for (var id in msg.t) this.statics[id] = msg.t[id];
    var changed = [];
    for (var target in msg.p) {
      this.trees[target] = this.change(target, this.trees[target], msg.p[target]);
      changed.push(target);
    }
    return changed;
  };

  /** The HTML of one partial the page holds. */
  LivePage.prototype.partial = function (target) {
    return this.html(this.trees[target]);
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

  LivePage.prototype.change = function (path, cur, ch) {
    if (typeof ch === 'string') return ch;
    if (Array.isArray(ch)) return this.full(ch);
    if (ch.$ !== undefined) return this.word(ch);
    var base = ch.p ? this.kept[path] : cur;
    if (ch.k) this.kept[path] = cur;
    if (ch.t !== undefined) return this.full(ch);
    var d = ch.d || {};
    var i;
    if (ch.n !== undefined) {
      var src = Array.isArray(base) ? base : [];
      var list = new Array(ch.n);
      for (i = 0; i < ch.n; i++) {
        var c = ch.a !== undefined ? ch.a : d[i];
        if (c !== undefined && c['='] !== undefined) c = d[c['=']];
        list[i] = c === undefined ? src[i] : this.change(path + '.' + i, src[i], c);
      }
      return list;
    }
    var dyns = base.d.slice();
    for (var k in d) dyns[k] = this.change(path + '.' + k, base.d[k], d[k]);
    return { t: base.t, d: dyns };
  };

  /** A long text: kept the first time ({$, v}), then sent as its id ({$}). */
  LivePage.prototype.word = function (w) {
    if (w.v !== undefined) this.words[w.$] = w.v;
    return this.words[w.$];
  };

  LivePage.prototype.full = function (f) {
    if (typeof f === 'string') return f;
    if (f.$ !== undefined) return this.word(f);
    if (Array.isArray(f)) {
      var items = new Array(f.length);
      for (var i = 0; i < f.length; i++) items[i] = this.full(f[i]);
      return items;
    }
    var d = new Array(f.d.length);
    for (var j = 0; j < f.d.length; j++) d[j] = this.full(f.d[j]);
    return { t: f.t, d: d };
  };

  LivePage.prototype.html = function (tree) {
    if (typeof tree === 'string') return tree;
    var out = '';
    var i;
    if (Array.isArray(tree)) {
      for (i = 0; i < tree.length; i++) out += this.html(tree[i]);
      return out;
    }
    var s = this.statics[tree.t];
    out = s[0];
    for (i = 0; i < tree.d.length; i++) out += this.html(tree.d[i]) + s[i + 1];
    return out;
  };

  root.MinotaurLive = { LivePage: LivePage };
})(typeof window !== 'undefined' ? window : globalThis);
