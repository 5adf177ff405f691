"""Reply text to HTML: fences found (also while a reply is still streaming), code escaped, prose via Qt."""

from __future__ import annotations

import re

from app.highlight import STYLES, highlight
from app.markup import body_html, colours_for, plain_title, split_fences


def test_an_unclosed_fence_is_code_to_the_end_as_a_reply_streams():
    assert split_fences("Look:\n```js\nlet x = 1") == [("prose", None, "Look:\n"), ("code", "js", "let x = 1")]
    assert split_fences("~~~\nplain\n~~~\nafter") == [("code", "", "plain"), ("prose", None, "after")]


def test_code_is_escaped_and_highlighted_by_pygments_for_any_language_it_knows():
    from pygments.styles import get_style_by_name
    from pygments.token import Comment

    assert highlight("if a < b: pass", "no-such-language") == "if a &lt; b: pass"
    assert highlight("if a < b: pass", "") == "if a &lt; b: pass"
    out = highlight('x = "<b>"  # note', "py")
    assert "&quot;&lt;b&gt;&quot;" in out or "&#34;&lt;b&gt;&#34;" in out or '"&lt;b&gt;"' in out
    assert "<b>" not in out and "# note</span>" in out
    comment = get_style_by_name(STYLES[False]).style_for_token(Comment)["color"]
    assert re.search(rf"color: #{comment}[^>]*># note</span>", out, re.IGNORECASE)
    for lang, keyword in (("haskell", "where"), ("elixir", "defmodule"), ("zig", "const"), ("kotlin", "fun")):
        code = f"{keyword} x"
        assert re.search(rf"<span style=\"[^\"]+\">{keyword}</span>", highlight(code, lang)), lang
    assert highlight("fn main() {}", "rust", dark=True) != highlight("fn main() {}", "rust", dark=False)


def test_sidebar_titles_lose_their_markdown():
    assert plain_title("**Bold** question about `code`") == "Bold question about code"
    assert plain_title("# A heading") == "A heading"
    assert plain_title("[a link](https://example.com) and *more*") == "a link and more"
    assert plain_title("2 * 3 = 6") == "2 * 3 = 6"


def test_each_code_block_gets_its_own_copy_link(qapp):
    blocks: list[str] = []
    page = body_html("A **bold** start\n```\none\n```\nmid\n```sh\necho two\n```", colours_for(qapp.palette()), blocks)
    assert blocks == ["one", "echo two"]
    assert "action:copy:0" in page and "action:copy:1" in page and "font-weight:700" in page


def test_html_in_a_message_is_text_and_only_web_links_stay_links(qapp):
    hostile = ('<b>bold?</b> <a href="action:edit:1">edit me</a> <img src="file:///etc/passwd"> '
               "[copy](action:copy:0) [secret](file:///etc/passwd) [site](https://example.com/a?b=1&c=2) "
               "<https://rwkv.com>")
    page = body_html(hostile, colours_for(qapp.palette()), [])
    assert "&lt;b&gt;bold?&lt;/b&gt;" in page and "<b>" not in page and "<img" not in page
    hrefs = re.findall(r'href="([^"]*)"', page)
    assert hrefs == ["https://example.com/a?b=1&amp;c=2", "https://rwkv.com"]
    assert "copy" in page and "secret" in page               # the text of a refused link stays
