// Minotaur's page behaviour on top of htmx and its hx-ws extension:
//  - keeps every game action until the server acknowledges it, and sends the unacknowledged
//    ones again after a reconnect (the server recognises resends by their id);
//  - shows a "reconnecting…" badge whenever the live socket is down, backs off a socket the
//    server keeps closing at once, and says so for good (with Reload) when it will not come back;
//  - runs the round countdown and its shrinking bar against the server's clock, and says so
//    when the server is late to close a round;
//  - keyboard play (hotkeys, focusable tiles), aiming highlights, sounds with a mute toggle,
//    table talk, the invite link, and the sign-up form's username check.
(function () {
  'use strict';

  // A failed WebSocket attempt already shows up in the browser's own log; its 'error' event
  // carries nothing more (the 'close' that follows drives the reconnect), so it is not passed
  // on to htmx, which would log it a second time as a page error.
  var NativeWebSocket = window.WebSocket;
  if (NativeWebSocket && !NativeWebSocket.quiet) {
    var QuietWebSocket = function (url, protocols) {
      var ws =
        protocols === undefined ? new NativeWebSocket(url) : new NativeWebSocket(url, protocols);
      ws.addEventListener('error', function (e) {
        e.stopImmediatePropagation();
      });
      return ws;
    };
    QuietWebSocket.prototype = NativeWebSocket.prototype;
    ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'].forEach(function (k) {
      QuietWebSocket[k] = NativeWebSocket[k];
    });
    QuietWebSocket.quiet = true;
    window.WebSocket = QuietWebSocket;
  }

  var offset = 0; // server time minus local time, in ms
  var retried = new Set(); // ids of actions the server asked to send again
  var pendingKey = function (code) {
    return 'minotaur:pending:' + code;
  };
  var openSocket = null;

  function liveRoot() {
    return document.querySelector('[data-live]');
  }
  function gameCode() {
    var g = document.getElementById('game');
    return g ? g.getAttribute('data-code') : null;
  }

  function loadPending(code) {
    try {
      return JSON.parse(sessionStorage.getItem(pendingKey(code)) || '[]');
    } catch (e) {
      return [];
    }
  }
  function savePending(code, list) {
    try {
      sessionStorage.setItem(pendingKey(code), JSON.stringify(list));
    } catch (e) {
      /* private mode: memory only */
    }
  }
  function addPending(code, msg) {
    var list = loadPending(code).filter(function (m) {
      return m.actionId !== msg.actionId;
    });
    list.push(msg);
    savePending(code, list.slice(-20));
  }
  function dropPending(code, actionId) {
    savePending(
      code,
      loadPending(code).filter(function (m) {
        return m.actionId !== actionId;
      }),
    );
  }
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return 'a' + Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  // The live socket's state in the header (#conn-badge, role=status): "reconnecting…" while it
  // is down and coming back; a lasting message instead once it will not come back on its own.
  var RECONNECTING = 'reconnecting…';
  var stopped = false;
  function setBadge(down) {
    if (stopped) return;
    var badge = document.getElementById('conn-badge');
    if (badge) {
      var was = !badge.hidden;
      badge.hidden = !down;
      // Written as it shows: a status whose text changes is read out; one just unhidden may not be.
      if (down && !was) badge.textContent = RECONNECTING;
    }
    document.documentElement.classList.toggle('offline', down);
  }

  /**
   * The socket is closed for good (hx-ws does not retry this close): the badge says why, for as
   * long as the page stays, with what to do about it (Reload, or a link such as Log in), instead
   * of a "reconnecting…" that would pulse forever.
   */
  function stopUpdating(text, action) {
    stopped = true;
    document.documentElement.classList.add('offline');
    var badge = document.getElementById('conn-badge');
    if (!badge) return;
    badge.classList.add('stopped');
    badge.hidden = false;
    badge.textContent = text + ' ';
    var control;
    if (action && action.href) {
      control = document.createElement('a');
      control.href = action.href;
      control.className = 'button small';
    } else {
      control = document.createElement('button');
      control.type = 'button';
      control.className = 'small';
      control.addEventListener('click', function () {
        window.location.reload();
      });
    }
    control.textContent = (action && action.label) || 'Reload';
    badge.appendChild(control);
  }

  /**
   * The page is live again after all: hx-ws reconnects a tab that was in the background when its
   * socket closed, whatever the code, once it is shown. The lasting message goes.
   */
  function resumeUpdating() {
    if (!stopped) return;
    stopped = false;
    var badge = document.getElementById('conn-badge');
    if (!badge) return;
    badge.classList.remove('stopped');
    badge.textContent = RECONNECTING;
  }

  /** A short note at the bottom of the game page: a refusal, or with `ok` a thing done. */
  function notice(text, ok) {
    var n = document.getElementById('game-notice');
    if (!n) return;
    n.textContent = text;
    n.classList.toggle('ok', !!ok);
    n.classList.add('show');
    clearTimeout(n._t);
    n._t = setTimeout(function () {
      n.classList.remove('show');
      // Gone from the screen, gone for screen readers too (they could still find the old text).
      n._t = setTimeout(function () {
        n.textContent = '';
      }, 400);
    }, 3500);
  }

  function sendRaw(msg) {
    if (openSocket && openSocket.readyState === WebSocket.OPEN) {
      openSocket.send(JSON.stringify(msg));
      return true;
    }
    return false;
  }

  // ── sound ────────────────────────────────────────────────────────────────────────────
  // Off until the player turns it on (and browsers only allow audio after a click anyway).
  var SOUND_KEY = 'minotaur:sound';
  var audio = null;
  function soundOn() {
    try {
      return localStorage.getItem(SOUND_KEY) === 'on';
    } catch (e) {
      return false;
    }
  }
  function showSoundToggle() {
    var on = soundOn();
    document.querySelectorAll('[data-sound-toggle]').forEach(function (b) {
      b.setAttribute('aria-pressed', on ? 'true' : 'false');
      b.textContent = on ? 'Sound on' : 'Sound off';
    });
  }
  function tone(freq, start, length, type, gain) {
    if (!audio) return;
    var osc = audio.createOscillator();
    var g = audio.createGain();
    osc.type = type || 'sine';
    osc.frequency.setValueAtTime(freq, audio.currentTime + start);
    g.gain.setValueAtTime(0.0001, audio.currentTime + start);
    g.gain.exponentialRampToValueAtTime(gain || 0.2, audio.currentTime + start + 0.01);
    g.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + start + length);
    osc.connect(g).connect(audio.destination);
    osc.start(audio.currentTime + start);
    osc.stop(audio.currentTime + start + length + 0.02);
  }
  var SOUNDS = {
    round: function () {
      tone(660, 0, 0.08, 'triangle', 0.08);
    },
    hurt: function () {
      tone(110, 0, 0.25, 'sawtooth', 0.25);
      tone(70, 0.05, 0.3, 'sine', 0.3);
    },
    blocked: function () {
      tone(900, 0, 0.06, 'square', 0.06);
      tone(1200, 0.05, 0.08, 'square', 0.05);
    },
    win: function () {
      [523, 659, 784, 1047].forEach(function (f, i) {
        tone(f, i * 0.12, 0.3, 'triangle', 0.15);
      });
    },
    lose: function () {
      [392, 330, 262].forEach(function (f, i) {
        tone(f, i * 0.18, 0.35, 'sine', 0.18);
      });
    },
  };
  function play(name) {
    if (!soundOn() || !SOUNDS[name]) return;
    try {
      if (!audio) audio = new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === 'suspended') audio.resume();
      SOUNDS[name]();
    } catch (e) {
      /* no audio on this device */
    }
  }

  // What the page last showed, to notice new rounds, hits and endings after each swap.
  var seen = { round: null, hits: {}, ended: false, first: true };
  function noticeChanges() {
    var cd = document.querySelector('#game-status .countdown[data-round]');
    var round = cd ? cd.getAttribute('data-round') : null;
    var hits = document.querySelectorAll('#game-board .hit[id]');
    var mine = null;
    hits.forEach(function (h) {
      if (seen.hits[h.id]) return;
      seen.hits[h.id] = true;
      // A shield nobody struck is no blow: the round's own sound plays.
      if (h.classList.contains('mine') && !h.classList.contains('hit-shield'))
        mine = h.classList.contains('hit-hurt') ? 'hurt' : 'blocked';
    });
    var overlay = document.querySelector('#game-overlay .overlay');
    var ended = !!overlay && document.querySelector('#game-status .phase.over') !== null;
    if (!seen.first) {
      if (mine) play(mine);
      else if (round && round !== seen.round) play('round');
      if (ended && !seen.ended) play(overlay.classList.contains('win') ? 'win' : 'lose');
    }
    seen.round = round;
    seen.ended = ended;
    seen.first = false;
  }

  // ── outgoing messages ────────────────────────────────────────────────────────────────
  // A clicked action gets an id of its own, is remembered until acknowledged, and is sent now
  // if the socket is open (otherwise after reconnecting). Table talk is sent as it is.
  document.addEventListener('htmx:ws:before:message:outgoing', function (evt) {
    var code = gameCode();
    var v = evt.detail.message.values || {};
    if (!code) return;
    if (v.say !== undefined || v.react !== undefined) {
      var wait = talkWait();
      if (wait > 0) {
        // Past what the table allows: not sent (the server would refuse it), and a line stays in
        // its box.
        evt.detail.cancelled = true;
        var s = Math.ceil(wait / 1000);
        notice(
          'Easy there: wait ' + s + (s === 1 ? ' second' : ' seconds') + ' before saying more.',
        );
        return;
      }
      var talk =
        v.react !== undefined
          ? { type: 'react', emote: String(v.react) }
          : { type: 'say', text: String(v.say) };
      evt.detail.message.data = JSON.stringify(talk);
      var input = document.getElementById('chat-input');
      // The box empties as its line goes, and takes back the oldest line the server refused
      // while it held this one.
      if (v.say !== undefined && input) input.value = unsaid.shift() || '';
      // Whoever talks wants to see their line come in, at the bottom.
      chatToBottom(true);
      return;
    }
    if (!v.kind) return;
    var msg = { type: 'act', actionId: uuid(), round: Number(v.round), kind: String(v.kind) };
    if (v.dir) msg.dir = String(v.dir);
    addPending(code, msg);
    var actions = document.getElementById('game-actions');
    if (actions) actions.classList.add('sending');
    evt.detail.message.data = JSON.stringify(msg);
    var socket = evt.detail.connection && evt.detail.connection.socket;
    // While the socket is down the action stays pending, and is sent on reconnect.
    if (!socket || socket.readyState !== WebSocket.OPEN) evt.detail.cancelled = true;
  });

  // Lines of table talk the server refused (too many at once, say from another tab) while the
  // box held other text: each comes back into the box once the line before it is sent.
  var unsaid = [];

  // Table talk is paced as the server counts it (the chat form's data-talk: so many lines in so
  // many seconds): how long until this page may say more, 0 if it may now (then counted as said).
  var talkTimes = [];
  function talkWait() {
    var form = document.querySelector('.chat-form[data-talk]');
    var m = form && /^(\d+)\/(\d+)$/.exec(form.getAttribute('data-talk'));
    if (!m) return 0;
    var now = Date.now();
    var windowMs = Number(m[2]) * 1000;
    talkTimes = talkTimes.filter(function (t) {
      return now - t < windowMs;
    });
    if (talkTimes.length >= Number(m[1])) return talkTimes[0] + windowMs - now;
    talkTimes.push(now);
    return 0;
  }

  document.addEventListener('htmx:ws:after:connection', function (evt) {
    openSocket = evt.detail.connection.socket;
    openedAt = Date.now();
    heard = false;
    resumeUpdating();
    setBadge(false);
    var code = gameCode();
    if (!code) return;
    loadPending(code).forEach(function (m) {
      sendRaw(m);
    });
  });

  // 4401: the server found no session on this page's reconnect (it was logged out elsewhere, or
  // its password was changed): the page goes to the login, and comes back here after it. Not
  // twice within a minute, so a server that answers 4401 to a session it accepts for pages
  // cannot send the page round in circles (the badge then stays).
  var LOGGED_OUT_KEY = 'minotaur_logged_out_at';
  function toLogin() {
    try {
      var last = Number(window.sessionStorage.getItem(LOGGED_OUT_KEY) || 0);
      if (Date.now() - last < 60000) return false;
      window.sessionStorage.setItem(LOGGED_OUT_KEY, String(Date.now()));
    } catch (e) {
      return false; // without storage a second trip could not be told from the first: say it
    }
    window.location.assign(
      '/login?next=' + encodeURIComponent(window.location.pathname) + '&ended=1',
    );
    return true;
  }

  // 4404: the game is not there any more (the servers lost it, or it ended and was put away): a
  // reload shows what the address holds now (the final board, the lobby, or "no such game").
  // Once in 30 s, so that a page whose reload comes back to the same close does not loop.
  var RELOADED_KEY = 'minotaur:reloaded:';
  function reloadOnce() {
    var key = RELOADED_KEY + window.location.pathname;
    try {
      if (Date.now() - Number(window.sessionStorage.getItem(key) || 0) < 30000) return false;
      window.sessionStorage.setItem(key, String(Date.now()));
    } catch (e) {
      return false; // without storage a reload could not tell it had been tried
    }
    window.location.reload();
    return true;
  }

  // hx-ws starts its back-off again each time a socket opens (attempt = 0), and a server that
  // cannot serve the game yet accepts the socket and closes it at once (1012: a game resuming,
  // or another node's to take): left alone, the page would come back every half second for as
  // long as that lasts. A socket that lived only briefly, or heard nothing, counts here; the
  // attempt hx-ws numbers its next delay by (the close event comes before it schedules the
  // retry) follows the count: 0.5 s, 1 s, then the cap of the page's config (views/partials/
  // head.ejs). A socket that lived a while starts the count again.
  var SHORT_LIFE_MS = 5000;
  var openedAt = 0;
  var heard = false;
  var shortLives = 0;
  function backOff(detail) {
    var connection = detail && detail.connection;
    var lived = Date.now() - openedAt;
    var opened = openedAt > 0;
    openedAt = 0;
    // Not opened since the last close: hx-ws counts the failed attempts itself. Closed because
    // the tab went to the background: nothing failed (it reconnects when the tab is back).
    if (!connection || !opened || document.hidden) return;
    if (lived >= SHORT_LIFE_MS && heard) {
      shortLives = 0;
      return;
    }
    shortLives++;
    connection.attempt = Math.max(connection.attempt || 0, shortLives - 1);
  }

  // Whether hx-ws will open the socket again after this close: by its list of codes. (No code: a
  // connection cancelled before it opened; 1000: the page's own close as it is left. Neither
  // needs a word.)
  function reconnects(detail) {
    var config = detail.connection && detail.connection.config;
    var codes = config && config.reconnectCodes;
    var code = detail.code;
    return code == null || code === 1000 || !codes || codes.indexOf(code) >= 0;
  }

  document.addEventListener('htmx:ws:close', function (evt) {
    var detail = evt.detail || {};
    var code = detail.code;
    openSocket = null;
    backOff(detail);
    if (stopped) return;
    // Codes hx-ws does not retry (src/live/close-codes.ts): each says, for good, why the page
    // stopped updating, and what brings it back.
    if (code === 4401) {
      if (toLogin()) return;
      stopUpdating('Your session has ended: this page stopped updating.', {
        label: 'Log in',
        href: '/login?next=' + encodeURIComponent(window.location.pathname) + '&ended=1',
      });
    } else if (code === 4404) {
      if (reloadOnce()) return;
      stopUpdating('This page stopped updating: the game could not be found.');
    } else if (code === 4429) {
      // The cap counts every live page of the account (games and lobby, on any device).
      stopUpdating('This page stopped updating: Minotaur is open in too many tabs or windows.');
    } else if (code === 1008 || code === 1009 || !reconnects(detail)) {
      stopUpdating('This page stopped updating: the server closed its connection.');
    } else setBadge(true);
  });

  // A page restored from the back/forward cache: hx-ws closed its socket when the page was left
  // and does not open it again, so the page would show a board that never moves. A fresh load.
  window.addEventListener('pageshow', function (evt) {
    if (evt.persisted && liveRoot()) window.location.reload();
  });

  // Live renders (public/js/live-render.js): the server sends what changed in each partial; the
  // page rebuilds the partials' HTML and hands htmx the same <hx-partial> elements it would
  // have been sent in full. One reader per connection (template ids are the server's own).
  var livePage = null;
  var liveSocket = null;
  var seenToken = null;

  // The release's templates, from the script the page caches (src/live/template-script.ts): a
  // page that holds them says so in its socket's URL, and is not sent their fixed text.
  function liveReader() {
    return new window.MinotaurLive.LivePage(window.MinotaurTemplates);
  }
  // The socket's URL names the messages this page's reader understands, not those the page's
  // HTML names: the reader may be a script cached from another release, or may have failed to
  // load (then the page asks for whole partials, which htmx applies as they are).
  document.addEventListener('htmx:ws:before:connection', function (evt) {
    var connection = evt.detail.connection;
    if (!connection) return;
    try {
      var url = new URL(connection.url, window.location.href);
      if (!url.searchParams.has('render')) return;
      var live = window.MinotaurLive;
      if (live && typeof live.LivePage.FORMAT === 'string') {
        url.searchParams.set('render', live.LivePage.FORMAT);
        var version = liveReader().tableVersion();
        if (version) url.searchParams.set('templates', version);
      } else {
        url.searchParams.delete('render');
      }
      connection.url = url.toString();
    } catch (e) {
      /* an address this page did not make: left as it is */
    }
  });

  // The same token goes into a cookie of the game's own path, so that a reload of the page
  // carries it too (the server then does not render an older round than this page showed).
  function rememberSeen(code, token) {
    if (!code || !/^[\d.]+(end)?$/.test(token)) return;
    document.cookie =
      'minotaur_seen_' +
      code +
      '=' +
      token +
      '; path=/games/' +
      code +
      '; max-age=3600; samesite=lax' +
      (window.location.protocol === 'https:' ? '; secure' : '');
  }
  // The lobby's word on a waiting room that closed (/lobby?closed=CODE) is said once: the address
  // loses it, so a reload or a link copied from the bar does not say it again.
  (function forgetClosedNote() {
    if (window.location.pathname !== '/lobby' || !window.history.replaceState) return;
    var params = new URLSearchParams(window.location.search);
    if (!params.has('closed')) return;
    params.delete('closed');
    var rest = params.toString();
    window.history.replaceState(
      window.history.state,
      '',
      '/lobby' + (rest ? '?' + rest : '') + window.location.hash,
    );
  })();
  (function rememberFirstRender() {
    var g = document.getElementById('game');
    var connect = g && g.getAttribute('hx-ws:connect');
    var m = connect && /[?&]seen=([^&]+)/.exec(connect);
    if (m) rememberSeen(gameCode(), decodeURIComponent(m[1]));
  })();
  document.addEventListener('htmx:ws:before:message:incoming', function (evt) {
    var message = evt.detail.message;
    if (!window.MinotaurLive || !window.MinotaurLive.LivePage.isRender(message.data)) return;
    var socket = evt.detail.connection && evt.detail.connection.socket;
    if (!livePage || socket !== liveSocket) {
      livePage = liveReader();
      liveSocket = socket;
    }
    message.data = window.MinotaurLive.LivePage.partials(livePage.apply(message.data));
    // A reconnect tells the server how far this page has seen the game (the token of its last
    // render, src/sessions/seen.ts): a server whose copy is behind keeps the page waiting rather
    // than show it rounds it already played. Every reconnect reuses the connection's URL.
    var connection = evt.detail.connection;
    if (livePage.seen && livePage.seen !== seenToken && connection) {
      seenToken = livePage.seen;
      rememberSeen(gameCode(), seenToken);
      try {
        var url = new URL(connection.url, window.location.href);
        url.searchParams.set('seen', seenToken);
        connection.url = url.toString();
      } catch (e) {
        /* an address this page did not make: left as it is */
      }
    }
  });

  // Incoming data-only messages (JSON without "content"): acks, refusals, clock sync.
  document.addEventListener('htmx:ws:after:message:incoming', function (evt) {
    heard = true;
    var data = evt.detail.message.data;
    if (typeof data !== 'string' || data.charAt(0) !== '{') return;
    var msg;
    try {
      msg = JSON.parse(data);
    } catch (e) {
      return;
    }
    var code = gameCode();
    if (msg.type === 'time' && typeof msg.now === 'number') {
      offset = msg.now - Date.now();
    } else if (msg.type === 'ack' && code) {
      dropPending(code, msg.actionId);
      retried.delete(msg.actionId);
    } else if (msg.type === 'error') {
      // An action refused frees the panel; a refusal of table talk leaves an action in flight.
      var actions = document.getElementById('game-actions');
      if (actions && msg.actionId) actions.classList.remove('sending');
      if (code && msg.actionId && !msg.retry) {
        dropPending(code, msg.actionId);
        retried.delete(msg.actionId);
      }
      if (msg.retry && code && msg.actionId) {
        setTimeout(function () {
          var m = loadPending(code).filter(function (p) {
            return p.actionId === msg.actionId;
          })[0];
          if (m) sendRaw(m);
        }, 1000);
      }
      // An action sent again every second while it cannot be saved says so once, not each time.
      var repeat = msg.retry && msg.actionId && retried.has(msg.actionId);
      if (msg.retry && msg.actionId) retried.add(msg.actionId);
      var text = msg.message;
      // A line of table talk refused (too many at once) goes back into the box, to send again;
      // if the box holds another line by then, it waits for that one to be sent.
      var box = document.getElementById('chat-input');
      if (typeof msg.unsaid === 'string' && box && msg.unsaid) {
        if (!box.value) box.value = msg.unsaid;
        else if (box.value !== msg.unsaid && unsaid.indexOf(msg.unsaid) < 0) {
          unsaid.push(msg.unsaid);
          text += ' Your line "' + msg.unsaid + '" comes back once this one is sent.';
        }
      }
      if (text && !msg.quiet && !repeat) notice(text);
    } else if (msg.type === 'redirect' && typeof msg.to === 'string' && msg.to.charAt(0) === '/') {
      window.location.assign(msg.to);
    }
  });

  // ── table talk ───────────────────────────────────────────────────────────────────────
  // The newest line is at the bottom of a list that scrolls. A page that shows the bottom keeps
  // showing it as lines come in; one whose reader scrolled up to read stays where it is.
  // Lines that came in out of sight bring up a button that goes down to them.
  var chatAtBottom = true;
  var chatSeen = null;
  function chatList() {
    return document.querySelector('#game-chat .chat-lines');
  }
  function atChatBottom(list) {
    return list.scrollHeight - list.scrollTop - list.clientHeight < 24;
  }
  function newestLine(list) {
    var last = list && list.lastElementChild;
    return last ? last.id : null;
  }
  // How many lines came in after the one last seen at the bottom (ids are chat-N, N rising).
  function unseenLines(list) {
    var seen = chatSeen ? Number(chatSeen.slice(5)) : -1;
    var count = 0;
    for (var li = list.firstElementChild; li; li = li.nextElementSibling)
      if (Number(li.id.slice(5)) > seen) count++;
    return count;
  }
  function showNewLines(count) {
    var button = document.querySelector('[data-chat-new]');
    if (!button) return;
    button.hidden = count === 0;
    if (count > 0) button.textContent = count === 1 ? '1 new line ↓' : count + ' new lines ↓';
  }
  function chatToBottom(force) {
    var list = chatList();
    if (list && (force || chatAtBottom)) {
      list.scrollTop = list.scrollHeight;
      chatSeen = newestLine(list);
      showNewLines(0);
    } else if (list && newestLine(list) !== chatSeen) showNewLines(unseenLines(list));
  }
  function noteChatPlace() {
    var list = chatList();
    chatAtBottom = !list || atChatBottom(list);
  }
  // Scrolling down to the newest line by hand does what the button does.
  document.addEventListener(
    'scroll',
    function (evt) {
      var list = chatList();
      if (evt.target === list && atChatBottom(list)) {
        chatSeen = newestLine(list);
        showNewLines(0);
      }
    },
    true,
  );
  if (document.readyState === 'loading')
    document.addEventListener('DOMContentLoaded', function () {
      chatToBottom(true);
    });
  else chatToBottom(true);

  // A swap of the actions panel means the server's view of our action changed.
  var focusWasInPlay = false;
  document.addEventListener('htmx:before:swap', function () {
    var a = document.activeElement;
    focusWasInPlay = !!(a && a.closest && a.closest('#game-actions, #game-board'));
    noteChatPlace();
    noteLobbyFocus();
  });
  document.addEventListener('htmx:after:swap', function () {
    var actions = document.getElementById('game-actions');
    if (actions) actions.classList.remove('sending');
    // Keyboard players keep their place: if the button they used went away, focus the panel's first
    // control.
    if (focusWasInPlay && (document.activeElement === document.body || !document.activeElement)) {
      var next = actions && actions.querySelector('button:not([disabled]), [tabindex="0"]');
      if (next) next.focus({ preventScroll: true });
      else if (actions) {
        actions.setAttribute('tabindex', '-1');
        actions.focus({ preventScroll: true });
      }
    }
    focusWasInPlay = false;
    chatToBottom(false);
    noticeChanges();
    showResult();
    showInvite();
    waitingForOthers();
    announce();
    keepLobbyFocus();
    tick();
  });

  // ── the result box ───────────────────────────────────────────────────────────────────
  // A box the player closed stays closed: every render of the end box (a reconnect resends it
  // whole, a rematch changes it, a reload draws it again) brings back the class the page took
  // away, so the page remembers, per game and per kind of box (a fallen hero's "Keep watching",
  // the game's end), which one was closed, and closes it again after each update. A new kind
  // shows: the end of the game after a fall.
  var DISMISSED_KEY = 'minotaur:dismissed:';
  var dismissedHere = {}; // without sessionStorage (private mode): for this page's life
  var resultKind = null; // the kind of box the page last held
  function dismissedKind(code) {
    try {
      return window.sessionStorage.getItem(DISMISSED_KEY + code);
    } catch (e) {
      return dismissedHere[code] || null;
    }
  }
  function rememberDismissed(code, kind) {
    dismissedHere[code] = kind;
    try {
      if (kind) window.sessionStorage.setItem(DISMISSED_KEY + code, kind);
      else window.sessionStorage.removeItem(DISMISSED_KEY + code);
    } catch (e) {
      /* private mode: memory only */
    }
  }
  function resultBox() {
    return document.querySelector('#game-overlay .overlay');
  }
  function focusResultTitle(box) {
    var title = box.querySelector('#overlay-title');
    if (title) title.focus();
  }
  var resultTookFocus = false; // in this update: then the box is read out, not announced too
  function showResult() {
    resultTookFocus = false;
    var box = resultBox();
    var code = gameCode();
    if (!box || !code) {
      resultKind = null;
      return;
    }
    var kind = box.getAttribute('data-overlay') || 'over';
    var closed = dismissedKind(code) === kind;
    box.classList.toggle('dismissed', closed);
    if (kind === resultKind) return;
    resultKind = kind;
    // A box that comes up takes the focus to its title, so that it is read out and Tab goes
    // through it: from the game's own controls, or from nowhere; not from a player elsewhere on
    // the page (typing in the table talk, on a quick call, reading the rules).
    var a = document.activeElement;
    var inPlay =
      !a ||
      a === document.body ||
      !!(a.closest && a.closest('#game-actions, #game-board, #game-overlay, #game-status'));
    if (!closed && inPlay) {
      focusResultTitle(box);
      resultTookFocus = true;
    }
  }
  function dismissResult(box) {
    box.classList.add('dismissed');
    var code = gameCode();
    if (code) rememberDismissed(code, box.getAttribute('data-overlay') || 'over');
    // The focus goes where the box can be opened again, or to the board it uncovered.
    var reopen = document.querySelector('[data-show-result]');
    var board = document.getElementById('game-board');
    if (reopen) reopen.focus();
    else if (board) {
      board.setAttribute('tabindex', '-1');
      board.focus();
    }
  }
  function reopenResult() {
    var box = resultBox();
    if (!box) return;
    box.classList.remove('dismissed');
    var code = gameCode();
    if (code) rememberDismissed(code, null);
    focusResultTitle(box);
  }

  // ── what changed, said to screen readers ─────────────────────────────────────────────
  // The round log and the status are not live regions (they change whole, every round): after
  // each update, one polite sentence in #game-announce (views/pages/game.ejs) says what matters,
  // from what the page now shows: the game starting, a round's blows and falls and the next
  // round, the player's own fall, the end. Nothing on the first render, nor when an update
  // (a reconnect's) shows the same state again.
  var told = null;
  function textOf(el) {
    return el ? el.textContent.replace(/\s+/g, ' ').trim() : '';
  }
  function withStop(text) {
    return text && !/[.!?…]$/.test(text) ? text + '.' : text;
  }
  function announce() {
    var region = document.getElementById('game-announce');
    var status = document.getElementById('game-status');
    if (!region || !status) return;
    var cd = status.querySelector('.countdown[data-round]');
    var now = {
      phase: status.querySelector('.phase.over')
        ? 'over'
        : status.querySelector('.phase.waiting')
          ? 'open'
          : cd
            ? 'playing'
            : null,
      round: cd ? cd.getAttribute('data-round') : null,
      held: !!status.querySelector('.waiting-for.hold'),
      box: resultBox() ? resultBox().getAttribute('data-overlay') : null,
    };
    var before = told;
    told = now;
    if (!before || !now.phase) return;
    var parts = [];
    var newRound = now.round !== before.round;
    if (
      (now.phase === 'playing' && before.phase === 'playing' && newRound) ||
      now.phase === 'over'
    ) {
      if (before.phase !== 'over') parts = parts.concat(roundEvents());
    }
    if (now.box === 'fallen' && before.box !== 'fallen')
      parts.push(textOf(document.querySelector('#game-overlay .overlay-card p')));
    if (now.phase === 'playing' && before.phase === 'open') parts.push('The game has started.');
    // A round held after a restart (for heroes whose pages are not back) says so, and begins when
    // the hold ends.
    if (now.phase === 'playing' && now.held && (newRound || !before.held))
      parts.push('Round ' + now.round + ' waits for everyone to come back.');
    else if (now.phase === 'playing' && (newRound || before.held))
      parts.push('Round ' + now.round + ' begins.');
    // Said by the box itself when it took the focus to its title.
    if (now.phase === 'over' && before.phase !== 'over' && !resultTookFocus) {
      var box = resultBox();
      var outcome = box ? textOf(box.querySelector('.outcome-line')) : '';
      var title = box ? textOf(box.querySelector('#overlay-title')) : '';
      parts.push(
        title === 'Victory!'
          ? 'Victory! ' + outcome
          : 'Game over' + (outcome ? ': ' + outcome : '.'),
      );
    }
    var text = parts.filter(Boolean).map(withStop).join(' ');
    if (text) region.textContent = text;
  }
  // What the round log shows of the round just played, without the lines of every round (who
  // moved, who raised a shield): the blows, the falls, the Minotaur.
  function roundEvents() {
    var lines = [];
    document.querySelectorAll('#game-log .events li').forEach(function (li) {
      var line = textOf(li);
      if (line && !/ (moved|raised a shield)\.$/.test(line)) lines.push(line);
    });
    return lines;
  }

  // ── the lobby keeps a keyboard player's place ────────────────────────────────────────
  // Each row has the id of its game (lobby-CODE): after an update, the focus goes back to the
  // same control of the same game's row (its Join may have become Watch), or to the heading of
  // its list if the game left it, never to another game's row.
  var lobbyFocus = null;
  function noteLobbyFocus() {
    var a = document.activeElement;
    var row = a && a.closest && a.closest('#open-games li[id^="lobby-"]');
    if (!row) {
      lobbyFocus = null;
      return;
    }
    var head = row.parentNode;
    while (head && head.previousElementSibling) {
      head = head.previousElementSibling;
      if (head.tagName === 'H2') break;
    }
    lobbyFocus = {
      row: row.id,
      label: a.getAttribute('aria-label'),
      head: head && head.id ? head.id : 'open-games-head',
    };
  }
  function keepLobbyFocus() {
    var was = lobbyFocus;
    lobbyFocus = null;
    if (!was) return;
    var a = document.activeElement;
    var row = document.getElementById(was.row);
    var inRow = row && a && row.contains(a);
    if (inRow && a.getAttribute('aria-label') === was.label) return;
    if (row) {
      var controls = row.querySelectorAll('a, button');
      var same = null;
      for (var i = 0; i < controls.length; i++)
        if (controls[i].getAttribute('aria-label') === was.label) same = controls[i];
      var to = same || controls[controls.length - 1];
      if (to) {
        to.focus({ preventScroll: true });
        return;
      }
    }
    var head = document.getElementById(was.head) || document.getElementById('open-games-head');
    if (head) {
      head.setAttribute('tabindex', '-1');
      head.focus({ preventScroll: true });
    }
  }

  // "Waiting for …" is one line for every page of a game (the server renders the status once per
  // state, for every viewer): a hero's page leaves its own hero out of it, or says "you" when
  // nobody else is left. So does the line of a round held after a restart, which names the heroes
  // not back yet (the reader's own page tells the game it is back as it opens). Names are letters,
  // digits, - and _, so ", " only ever separates them.
  function waitingForOthers() {
    var root = document.getElementById('game');
    var me = root && root.getAttribute('data-hero');
    var line = me && document.querySelector('#game-status .waiting-for');
    if (!line) return;
    var held = line.classList.contains('hold');
    var m = held
      ? /^A server restarted: waiting for (.+?) to come back\.(.*)$/.exec(line.textContent.trim())
      : /^Waiting for (.+)$/.exec(line.textContent.trim());
    if (!m) return;
    var names = m[1].split(', ');
    var others = names.filter(function (n) {
      return n !== me;
    });
    if (others.length === names.length) return;
    if (!held) line.textContent = 'Waiting for ' + (others.length ? others.join(', ') : 'you');
    else if (others.length)
      line.textContent =
        'A server restarted: waiting for ' + others.join(', ') + ' to come back.' + m[2];
    else line.textContent = 'A server restarted: you are back, and the round starts in a moment.';
  }

  // The invite link (views/pages/game.ejs) is for a game that still waits for heroes: hidden
  // while the waiting room is full (it comes back when a hero leaves), and gone once the status
  // no longer shows the waiting room (the game started, or ended).
  function showInvite() {
    var copy = document.querySelector('[data-copy-link]');
    var status = document.getElementById('game-status');
    if (!copy || !status) return;
    var waiting = status.querySelector('.phase.waiting');
    if (!waiting) copy.remove();
    else copy.hidden = waiting.classList.contains('full');
  }

  // ── the round clock ──────────────────────────────────────────────────────────────────
  // A round the server has not closed this long after its deadline (a node paused or taking
  // over, the database away) says so instead of showing a 0 that looks stuck; the next render
  // (the new round) takes the note away with the old status.
  var OVERDUE_MS = 2500;
  function showOverdue(el, overdue) {
    var line = el.closest('.round-line');
    if (!line || !line.parentNode) return;
    var note = line.parentNode.querySelector('.overdue-note');
    if (!overdue) {
      if (note) note.remove();
      return;
    }
    if (note) return;
    note = document.createElement('p');
    note.className = 'overdue-note';
    note.setAttribute('role', 'status');
    note.textContent =
      'Round ' +
      (el.getAttribute('data-round') || '') +
      ' is taking longer than usual to close: waiting for the server. Actions you send are kept.';
    line.parentNode.insertBefore(note, line.nextSibling);
  }

  function tick() {
    var els = document.querySelectorAll('.countdown[data-deadline]');
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      var deadline = Number(el.getAttribute('data-deadline'));
      if (!deadline) continue;
      var seconds = Number(el.getAttribute('data-seconds')) || 10;
      var leftMs = Math.min(seconds * 1000, Math.max(0, deadline - (Date.now() + offset)));
      var left = Math.ceil(leftMs / 1000);
      var num = el.querySelector('.countdown-num');
      if (num && num.textContent !== String(left)) num.textContent = String(left);
      var overdue = Date.now() + offset - deadline > OVERDUE_MS;
      var urgent = left <= 3 && !overdue;
      el.classList.toggle('urgent', urgent);
      el.classList.toggle('overdue', overdue);
      showOverdue(el, overdue);
      var bar =
        el.closest('#game-status') && el.closest('#game-status').querySelector('.timer-fill');
      if (bar) {
        bar.style.transform = 'scaleX(' + (leftMs / (seconds * 1000)).toFixed(3) + ')';
        bar.parentNode.classList.toggle('urgent', urgent);
      }
    }
  }

  // ── aiming: the tile a move or attack button points at lights up ────────────────────
  function aim(el, on) {
    var dir = el && el.getAttribute('data-dir');
    if (!dir) return;
    var tile = document.querySelector('#game-board .aim[data-aim="' + dir + '"]');
    if (!tile) return;
    var kind = el.getAttribute('data-action');
    tile.classList.toggle('on', on);
    tile.classList.toggle('attack', on && kind === 'attack');
    tile.classList.toggle('move', on && kind === 'move');
  }
  ['mouseover', 'focusin'].forEach(function (type) {
    document.addEventListener(type, function (evt) {
      var el = evt.target instanceof Element && evt.target.closest('#game-actions [data-dir]');
      if (el) aim(el, true);
    });
  });
  ['mouseout', 'focusout'].forEach(function (type) {
    document.addEventListener(type, function (evt) {
      var el = evt.target instanceof Element && evt.target.closest('#game-actions [data-dir]');
      if (el) aim(el, false);
    });
  });

  // ── pieces over reachable tiles ─────────────────────────────────────────────────────
  // A hero's token (or a blow's mark, or a call) drawn over a tile the viewer can move to takes
  // the pointer from it: a click on the piece is the tile's, and hovering it lights the tile up.
  var PIECE = '#game-board .token, #game-board .hit, #game-board .bubble';
  function reachUnder(evt) {
    var under = document.elementsFromPoint(evt.clientX, evt.clientY);
    for (var i = 0; i < under.length; i++)
      if (under[i].matches('#game-board .tile.reach')) return under[i];
    return null;
  }
  var lit = null;
  function light(tile, piece) {
    if (lit && lit !== tile) lit.classList.remove('hot');
    lit = tile;
    if (tile) tile.classList.add('hot');
    if (piece) piece.style.cursor = tile ? 'pointer' : '';
  }
  document.addEventListener('mouseover', function (evt) {
    var piece = evt.target instanceof Element && evt.target.closest(PIECE);
    light(piece ? reachUnder(evt) : null, piece);
  });
  document.addEventListener('click', function (evt) {
    var piece = evt.target instanceof Element && evt.target.closest(PIECE);
    if (!piece || piece.closest('.token.me')) return;
    var tile = reachUnder(evt);
    if (tile) activate(tile);
  });

  // ── keyboard play ────────────────────────────────────────────────────────────────────
  var KEYS = { q: 'nw', e: 'ne', a: 'w', d: 'e', z: 'sw', c: 'se' };
  function activate(el) {
    if (!el || el.disabled) return false;
    if (typeof el.click === 'function') el.click();
    else el.dispatchEvent(new MouseEvent('click', { bubbles: true, cancelable: true }));
    return true;
  }
  document.addEventListener('keydown', function (evt) {
    var t = evt.target;
    // SVG tiles with role="button" act on Enter and Space like real buttons.
    if (
      (evt.key === 'Enter' || evt.key === ' ') &&
      t instanceof Element &&
      t.getAttribute('role') === 'button' &&
      !(t instanceof HTMLButtonElement)
    ) {
      evt.preventDefault();
      activate(t);
      return;
    }
    if (evt.ctrlKey || evt.metaKey || evt.altKey) return;
    if (t instanceof Element && t.closest('input, textarea, select, [contenteditable]')) return;
    var panel = document.getElementById('game-actions');
    if (!panel) return;
    var k = evt.key.toLowerCase();
    var button = null;
    if (k === 's') button = panel.querySelector('button[data-action="defend"]');
    else if (KEYS[k])
      button = panel.querySelector(
        'button[data-action="' +
          (evt.shiftKey ? 'attack' : 'move') +
          '"][data-dir="' +
          KEYS[k] +
          '"]',
      );
    if (button && button.disabled && KEYS[k]) {
      // Said, not ignored: a keyboard player cannot see that the key did nothing.
      notice(
        button.getAttribute('data-blocked') ||
          (evt.shiftKey
            ? 'Nothing to strike that way: a wall or the edge of the labyrinth.'
            : 'That way is blocked: a wall or the edge of the labyrinth.'),
      );
      evt.preventDefault();
      return;
    }
    if (button && activate(button)) evt.preventDefault();
  });

  // ── clicks: dismiss and reopen the result, copy the invite link, sound toggle ──────────
  document.addEventListener('click', function (evt) {
    var t = evt.target;
    if (!(t instanceof Element)) return;
    var dismiss = t.closest('[data-dismiss]');
    if (dismiss) {
      var overlay = dismiss.closest('.overlay');
      if (overlay) dismissResult(overlay);
    }
    if (t.closest('a[href="#howto"]')) {
      var howto = document.getElementById('howto');
      if (howto) howto.open = true;
    }
    if (t.closest('[data-chat-new]')) chatToBottom(true);
    if (t.closest('[data-show-result]')) reopenResult();
    var copy = t.closest('[data-copy-link]');
    if (copy) {
      var url = new URL(copy.getAttribute('data-copy-link'), window.location.href).href;
      var label = copy.querySelector('.long') || copy;
      var done = function () {
        copy.classList.add('copied');
        label.textContent = 'Link copied';
        notice('Invite link copied: ' + url, true);
        setTimeout(function () {
          copy.classList.remove('copied');
          label.textContent = 'Copy invite link';
        }, 2500);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(url).then(done, function () {
          window.prompt('Copy this link:', url);
        });
      } else {
        window.prompt('Copy this link:', url);
      }
    }
    if (t.closest('[data-sound-toggle]')) {
      try {
        localStorage.setItem(SOUND_KEY, soundOn() ? 'off' : 'on');
      } catch (e) {
        /* private mode */
      }
      showSoundToggle();
      play('round');
    }
  });

  // ── sign-up: say at once whether a username is free ─────────────────────────────────
  function watchSignup(form) {
    var input = form.querySelector('input[name="username"]');
    var status = document.getElementById('username-status');
    if (!input || !status) return;
    var timer = null;
    var asked = '';
    function check() {
      var name = input.value.trim();
      if (name.length < 3 || !input.checkValidity()) {
        status.textContent = '';
        input.setCustomValidity('');
        return;
      }
      asked = name;
      fetch('/signup/available?username=' + encodeURIComponent(name), {
        headers: { accept: 'application/json' },
      })
        .then(function (r) {
          return r.ok ? r.json() : null;
        })
        .then(function (res) {
          if (!res || asked !== input.value.trim()) return;
          input.setCustomValidity(res.available ? '' : 'That username is taken. Pick another.');
          status.textContent = res.available
            ? '✓ ' + name + ' is free'
            : name + ' is taken: pick another';
          status.className = 'field-status ' + (res.available ? 'ok' : 'bad');
        })
        .catch(function () {
          /* the server decides on submit */
        });
    }
    input.addEventListener('input', function () {
      input.setCustomValidity('');
      clearTimeout(timer);
      timer = setTimeout(check, 250);
    });
    form.addEventListener('submit', function (evt) {
      if (!input.checkValidity()) {
        evt.preventDefault();
        input.reportValidity();
      }
    });
    if (input.value) check();
  }

  // Dates and times the server wrote in UTC (<time data-local>), shown in the reader's own time
  // zone and language; the UTC text stays as the tooltip.
  var LOCAL_FORMATS = {
    date: { dateStyle: 'medium' },
    datetime: { dateStyle: 'medium', timeStyle: 'short' },
  };
  function showLocalTimes(root) {
    if (typeof Intl === 'undefined' || !Intl.DateTimeFormat) return;
    var times = root.querySelectorAll('time[data-local][datetime]');
    for (var i = 0; i < times.length; i++) {
      var el = times[i];
      var style = LOCAL_FORMATS[el.getAttribute('data-local')];
      var at = new Date(el.getAttribute('datetime'));
      if (!style || isNaN(at.getTime())) continue;
      try {
        var text = new Intl.DateTimeFormat(undefined, style).format(at);
        if (!el.title) {
          var utc = el.textContent.trim();
          el.title = /UTC$/.test(utc) ? utc : utc + ' UTC';
        }
        el.textContent = text;
      } catch (e) {
        // An engine without these options keeps the UTC text.
      }
    }
  }

  // "One moment" (views/pages/error.ejs, a game page a server cannot show yet): tried again on its
  // own after the seconds the server named, then less often while it keeps coming back (twice as
  // long each time, at most 20 s), for about five minutes, and only while the tab is looked at;
  // "Try again" does it at once.
  var RETRIES_KEY = 'minotaur:retries:';
  function retryLater() {
    var note = document.querySelector('[data-retry-after]');
    var key = RETRIES_KEY + window.location.pathname;
    if (!note) {
      // The page loaded: a later "one moment" on it starts from the first wait again.
      try {
        window.sessionStorage.removeItem(key);
      } catch (e) {
        /* private mode: nothing kept */
      }
      return;
    }
    var tries = 0;
    try {
      var last = JSON.parse(window.sessionStorage.getItem(key) || 'null');
      // Tries of another visit, long ago, do not slow this one down.
      if (last && Date.now() - last.at < 120000) tries = last.n;
    } catch (e) {
      tries = 4; // no storage to count in: every wait is the longest
    }
    // About five minutes of tries: after them, the page waits for the player's Try again.
    if (tries >= 15) {
      note.textContent = 'Still not ready: try again in a little while.';
      return;
    }
    var seconds = Math.min(
      20,
      (Number(note.getAttribute('data-retry-after')) || 3) * Math.pow(2, tries),
    );
    note.textContent = 'Trying again in ' + seconds + (seconds === 1 ? ' second…' : ' seconds…');
    var retry = function () {
      // A tab in the background tries once it is looked at again.
      if (document.hidden) {
        document.addEventListener('visibilitychange', retry, { once: true });
        return;
      }
      try {
        window.sessionStorage.setItem(key, JSON.stringify({ n: tries + 1, at: Date.now() }));
      } catch (e) {
        /* private mode */
      }
      window.location.reload();
    };
    setTimeout(retry, seconds * 1000);
  }

  document.addEventListener('DOMContentLoaded', function () {
    showLocalTimes(document);
    waitingForOthers();
    var root = document.getElementById('game');
    if (root) {
      var serverNow = Number(root.getAttribute('data-server-now'));
      if (serverNow) offset = serverNow - Date.now();
    }
    if (liveRoot()) {
      // Show the badge only if the first connection takes noticeably long.
      setTimeout(function () {
        if (!openSocket) setBadge(true);
      }, 1500);
    }
    // A page opened at its rules (a link to #howto, a reload after following one) shows them open.
    var howto = document.getElementById('howto');
    if (howto && window.location.hash === '#howto') howto.open = true;
    var signup = document.querySelector('form[data-signup]');
    if (signup) watchSignup(signup);
    showSoundToggle();
    noticeChanges();
    showResult();
    announce();
    retryLater();
    setInterval(tick, 100);
    tick();
  });
})();
