// The page asks for tree messages by the name its reader (public/js/live-render.js) gives, not
// by the one in the page's HTML: a reader cached from another release is then sent whole
// partials. So the reader's name must be the one this release's nodes send trees for.

import { describe, expect, it } from 'vitest';
import { PATCH_RENDER } from '../../../src/live/live-socket.js';
import { LivePage } from '../../support/live-page.js';

describe("the page's reader", () => {
  it('names the tree messages this release sends (bump both together)', () => {
    expect(LivePage.FORMAT).toBe(PATCH_RENDER);
  });
});
