"""Build the demo model's chat data and byte-level BPE tokenizer from WordNet 3.0.

The demo model is trained on two CPU cores, so its data must teach one thing well: the RWKV World
chat template (``User: …\\n\\nAssistant: …``) filled with short, true answers. WordNet's glosses,
examples, synonyms, antonyms and hypernyms become dictionary questions asked a dozen ways, so the
model learns to follow the question rather than one fixed string.

Everything is deterministic: a synset goes to ``valid`` when a hash of its id says so (about 3%),
every random choice is seeded by the synset id, and the tokenizer is trained on ``train`` only.

    .venv/bin/python scripts/make_demo_data.py --out data/demo

Reads ``/usr/share/wordnet`` from the Debian package ``wordnet-base`` (installs nothing itself).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "wordnet-base"
INSTALL = f"sudo apt-get install --no-install-recommends {PACKAGE}"
EOT = "<|endoftext|>"
SEP = "\n\n"  # the chat turn separator; the engine stops a reply on it
POS_FILES = {"noun": "n", "verb": "v", "adj": "a", "adv": "r"}
POS_NAMES = {"n": "noun", "v": "verb", "a": "adjective", "s": "adjective", "r": "adverb"}
LEX_ADJ_ALL, LEX_LOCATION, LEX_PERSON = 0, 15, 18  # lexicographer files (lexnames(5WN))
TAXON = re.compile(r"^(?:(?:sub|super)?(?:genus|family|order|class|phylum|division|kingdom|tribe)) ")
TAXON_GLOSS = re.compile(r"^(?:a |any |the )?(?:type )?(?:sub|super)?(?:genus|family|order|class|phylum) (?:of|compr)")
MAX_DEFINITION = 240  # characters; longer glosses are cut at a "; " so an answer stays 1-2 sentences
MAX_ANSWER = 320


Exchange = tuple[str, str, str]  # (opening question naming the word, follow-up saying "it" or "", answer)


@dataclass
class Synset:
    id: str                                # ss_type + offset, e.g. "n00001740": stable in WordNet 3.0
    pos: str                               # n, v, a, s (adjective satellite), r
    lexfile: int
    words: list[str]                       # lemmas, spaces for underscores, adjective markers removed
    pointers: list[tuple[str, str, int, int]]   # (symbol, target id, source word, target word); 0 = whole synset
    definition: str
    examples: list[str]


# -- reading WordNet ----------------------------------------------------------------------------


def parse_line(line: str) -> Synset:
    """One line of a ``data.*`` file, as wndb(5WN) documents it (counts in hex where it says so)."""
    head, _, gloss = line.partition(" | ")
    f = head.split()
    offset, lexfile, ss_type, w_cnt = f[0], int(f[1]), f[2], int(f[3], 16)
    words = [re.sub(r"\((?:a|p|ip)\)$", "", w).replace("_", " ") for w in f[4:4 + 2 * w_cnt:2]]
    i = 4 + 2 * w_cnt
    p_cnt, i = int(f[i]), i + 1
    pointers = []
    for _ in range(p_cnt):
        symbol, target, pos, src_tgt = f[i:i + 4]
        pointers.append((symbol, pos + target, int(src_tgt[:2], 16), int(src_tgt[2:], 16)))
        i += 4
    definition, examples = split_gloss(gloss)
    return Synset(ss_type + offset, ss_type, lexfile, words, pointers, definition, examples)


def split_gloss(gloss: str) -> tuple[str, list[str]]:
    """The definition, then the example sentences in double quotes after it ("; "-separated)."""
    gloss = " ".join(gloss.replace("`", "'").split())
    quote = re.search(r'(?:^|;\s*)"', gloss)
    definition, rest = (gloss[:quote.start()], gloss[quote.start():]) if quote else (gloss, "")
    examples = [" ".join(e.split()) for e in re.findall(r'"([^"]+)"', rest)]
    return definition.strip(" ;,:.").strip(), [e for e in examples if len(e) > 3]


def read_wordnet(root: Path) -> dict[str, Synset]:
    missing = [f"data.{name}" for name in POS_FILES if not (root / f"data.{name}").is_file()]
    if missing:
        sys.exit(f"WordNet 3.0 is not installed ({root}/{missing[0]} is missing).\n"
                 f"Install it with:  {INSTALL}\n(or pass --wordnet DIR holding data.noun, data.verb, ...)")
    synsets: dict[str, Synset] = {}
    for name in POS_FILES:
        with open(root / f"data.{name}", encoding="utf-8") as f:
            for line in f:
                if not line.startswith("  "):  # header lines (the licence) start with two spaces
                    s = parse_line(line)
                    synsets[s.id] = s
    return synsets


def licence_notice(root: Path) -> str:
    """The WordNet licence exactly as the data files carry it (their numbered header lines)."""
    with open(root / "data.noun", encoding="utf-8") as f:
        lines = [re.sub(r"^  \d+ ?", "", line.rstrip()) for line in f if line.startswith("  ")]
    return "\n".join(lines)


def package_version(package: str) -> str:
    try:
        return subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not installed through dpkg)"


# -- shaping synsets into chats -----------------------------------------------------------------


def usable(word: str) -> bool:
    return not any(c.isdigit() for c in word) and len(word) <= 40


def keep(s: Synset) -> bool:
    """Skip taxonomy entries (mostly Latin names glossed "genus of …" or with one plural noun),
    glosses too short to be more than a cross-reference, and synsets with no usable word."""
    if not any(usable(w) for w in s.words) or len(s.definition.split()) < 2:
        return False
    if len(shorten(s.definition)) > MAX_ANSWER - 60:  # one long sentence ("Second World War")
        return False
    return not (any(TAXON.match(w.lower()) for w in s.words) or TAXON_GLOSS.match(s.definition.lower()))


def shorten(definition: str) -> str:
    while len(definition) > MAX_DEFINITION and "; " in definition:
        definition = definition.rsplit("; ", 1)[0]
    return definition


def article(phrase: str) -> str:
    w = phrase.lower()
    if w.startswith(("uni", "use", "usu", "uti", "eu", "one ", "once")):
        return "a"
    return "an" if w[:1] in "aeiou" or w.startswith(("hour", "honest", "honor", "heir")) else "a"


def capital(word: str) -> str:
    return word[:1].upper() + word[1:] if word == word.lower() else word  # keep "pH", "eBay"


def latin(synonym: str, word: str) -> bool:
    """A scientific name ("Passer domesticus") offered as a synonym of an everyday word."""
    return word[:1].islower() and synonym[:1].isupper()


def mentions(sentence: str, word: str) -> bool:
    """Whether an example sentence uses the word (or an inflection of its first word)."""
    first = word.lower().split()[0]
    if len(first) <= 4:  # "be" must not match "behind"
        pattern = r"\b" + re.escape(first) + r"(?:s|es|d|ed|ing|n|ne)?\b"
    else:
        pattern = r"\b" + re.escape(first[:-2])
    return re.search(pattern, sentence.lower()) is not None


def quoted(example: str) -> str:
    return f'"{example}"' if example[-1:] in ".!?" else f'"{example}".'


def ask(rng: random.Random, templates: list[str], word: str) -> str:
    """A question from ``templates`` about ``word``, now and then lower-cased or without its
    question mark, as people type them."""
    q = rng.choice(templates).format(w=word, a=article(word))
    if rng.random() < 0.12:
        q = q[0].lower() + q[1:]
    if rng.random() < 0.08 and q.endswith("?"):
        q = q[:-1]
    return q


DEFINE = ['What does "{w}" mean?', 'What does "{w}" mean?', "What does {w} mean?", "Define {w}.", 'Define "{w}".',
          "What does the word {w} mean?", 'What is the meaning of "{w}"?', "What's the meaning of {w}?",
          'Explain the word "{w}".', 'Can you tell me what "{w}" means?', "What's the definition of {w}?",
          'I don\'t know the word "{w}". What does it mean?']
DEFINE_BY_POS = {"n": ["What is {a} {w}?"], "v": ["What does it mean to {w}?"], "a": ["What does it mean to be {w}?"]}
EXAMPLE = ["Give me an example sentence with {w}.", 'Use "{w}" in a sentence.', 'How do you use the word "{w}"?',
           'Can you show me "{w}" in a sentence?']
EXAMPLE_AGAIN = ["Can you use it in a sentence?", "Give me an example.", "How is it used?",
                 "Use it in a sentence, please.", "Can I see an example?"]
MORE = ["Tell me more.", "What else do you know about it?", "Anything else?"]
EXAMPLE_MORE = ["Give me another example.", "Another example, please.", "Can you give one more example?"]
SYNONYMS = ['What are synonyms of "{w}"?', "What are synonyms of {w}?", "What is another word for {w}?",
            'Give me a synonym for "{w}".', 'Which words mean the same as "{w}"?']
SYNONYMS_AGAIN = ["What are some synonyms?", "Is there another word for it?", "What other words mean the same?",
                  "Any synonyms?"]
OPPOSITE = ['What is the opposite of "{w}"?', "What is the opposite of {w}?", "What's an antonym of {w}?"]
OPPOSITE_AGAIN = ["What is its opposite?", "And the opposite?", "What is the opposite word?"]
KIND = {"n": ['What is a more general word for "{w}"?', 'What kind of thing is "{w}"?'],
        "v": ['What is a more general word for "{w}"?', 'What is a more general verb than "{w}"?']}
KIND_AGAIN = {"n": ["What kind of thing is it?", "What is a more general word for it?"],
              "v": ["What is a more general word for it?", "And a more general verb?"]}
GREETINGS = [("Hello!", "Hello! I am a tiny demo model that knows English words. Ask me what a word means."),
             ("Hi", "Hi! Ask me about any English word: its meaning, an example or a synonym."),
             ("Hi there.", "Hello! I can explain English words. Which word would you like to know?"),
             ("Who are you?", "I am the RWKV Desktop demo model, a very small language model trained on a dictionary."),
             ("What can you do?", "I can tell you what English words mean, use them in a sentence and give synonyms."),
             ("Can you help me with a word?", "Of course! Tell me the word and I will explain what it means.")]
THANKS = [("Thanks!", "You're welcome! Ask me about another word any time."),
          ("Thank you.", "You're welcome."), ("Great, thanks.", "Glad to help!")]


def exchanges(s: Synset, word: str, synsets: dict[str, Synset], rng: random.Random) -> list[Exchange]:
    """All that can be said about ``word`` in this sense; the definition (or, for a place or a
    person, what it is) comes first."""
    examples = [e for e in s.examples if mentions(e, word)]
    rng.shuffle(examples)
    if any(p[0] == "@i" for p in s.pointers):
        out = [_who_or_what(s, word, rng)]
        if examples:  # about a place or person an example is a fact, not a usage
            fact = examples.pop()
            out.append(("", rng.choice(MORE), capital(fact) + ("" if fact[-1] in ".!?" else ".")))
    else:
        out = [_meaning(s, word, examples, rng)]
        if examples:
            again = EXAMPLE_MORE if "For example" in out[0][2] else EXAMPLE_AGAIN
            out.append((ask(rng, EXAMPLE, word), rng.choice(again), f"Here is an example: {quoted(examples.pop())}"))
    return out + _related(s, word, synsets, rng)


def _leading_note(definition: str) -> tuple[str, str]:
    """``("of persons", "worthy of trust")`` from ``"(of persons) worthy of trust"``."""
    paren = re.match(r"^\(([^()]{1,60})\)\s*(.+)$", definition)
    return (paren.group(1), paren.group(2)) if paren else ("", definition)


def _meaning(s: Synset, word: str, examples: list[str], rng: random.Random) -> Exchange:
    note, definition = _leading_note(shorten(s.definition))
    note = ", " + note if note else ""
    if s.pos == "v" and not definition.startswith("to "):
        definition = "to " + definition
    answer = f"{capital(word)} ({POS_NAMES[s.pos]}{note}) means {definition}."
    if examples and rng.random() < 0.5 and len(answer) + len(examples[-1]) < MAX_ANSWER:
        answer += " For example: " + quoted(examples.pop())
    extra = DEFINE_BY_POS.get(s.pos, []) if s.pos != "a" or s.lexfile == LEX_ADJ_ALL else []
    return ask(rng, DEFINE + extra, word), "", answer


def _who_or_what(s: Synset, word: str, rng: random.Random) -> Exchange:
    definition = _leading_note(shorten(s.definition))[1]  # "(Arthurian legend) one of the knights …"
    verb = "was" if s.lexfile == LEX_PERSON and "(born" not in definition else "is"
    lead = "" if re.match(r"(?:a|an|the|one|any)\b", definition) else article(definition) + " "
    questions = {LEX_PERSON: [f"Who {verb} {{w}}?", "Tell me about {w}."], LEX_LOCATION: ["Where is {w}?"]}
    return ask(rng, questions.get(s.lexfile, ["What is {w}?", "Tell me about {w}."]), word), "", \
        f"{word} {verb} {lead}{definition}."


def _related(s: Synset, word: str, synsets: dict[str, Synset], rng: random.Random) -> list[Exchange]:
    """Synonyms (the synset's other words), the opposite (the word's antonym pointer) and a more
    general word (the first hypernym)."""
    out = []
    synonyms = [w for w in s.words if w.lower() != word.lower() and usable(w) and not latin(w, word)][:4]
    if synonyms:
        listed = " and ".join(filter(None, [", ".join(f'"{w}"' for w in synonyms[:-1]), f'"{synonyms[-1]}"']))
        answer = (f'Another word for "{word}" is {listed}.' if len(synonyms) == 1
                  else f'Synonyms of "{word}" include {listed}.')
        out.append((ask(rng, SYNONYMS, word), rng.choice(SYNONYMS_AGAIN), answer))
    index = s.words.index(word) + 1
    opposite = [synsets[t].words[to - 1] for sym, t, frm, to in s.pointers if sym == "!" and frm == index]
    if opposite and usable(opposite[0]):
        answer = f'The opposite of "{word}" is "{opposite[0]}".'
        out.append((ask(rng, OPPOSITE, word), rng.choice(OPPOSITE_AGAIN), answer))
    general = [synsets[t].words[0] for sym, t, _, _ in s.pointers if sym == "@"]
    if general and usable(general[0]) and s.pos in "nv":
        answer = f"{capital(word)} is a kind of {general[0]}." if s.pos == "n" else \
            f"To {word} is a way to {general[0]}."
        out.append((ask(rng, KIND[s.pos], word), rng.choice(KIND_AGAIN[s.pos]), answer))
    return out


def document(s: Synset, synsets: dict[str, Synset]) -> str | None:
    """One chat about one synset: 1-3 exchanges, mostly opening with the definition."""
    if not keep(s):
        return None
    rng = random.Random(s.id)  # str seeds are hashed with SHA-512: the same choices on every run
    words = [w for w in s.words if usable(w)]
    if not any(p[0] == "@i" for p in s.pointers):  # "Bridgetown", not "capital of Barbados"
        words = [w for w in words if w[:1].islower()] or words  # "white oak", not "Quercus alba"
    word = words[0] if len(words) == 1 or rng.random() < 0.7 else rng.choice(words[1:])
    options = exchanges(s, word, synsets, rng)
    openers = [i for i, (opening, _, _) in enumerate(options) if i and opening]
    if openers and rng.random() < 0.25:  # open with something other than the definition
        options.insert(0, options.pop(rng.choice(openers)))
    turns = rng.choices([1, 2, 3], weights=[4, 4, 2])[0]
    follow = rng.sample(options[1:], min(turns - 1, len(options) - 1))
    chosen = [(options[0][0], options[0][2])] + [(f or q, a) for q, f, a in follow]
    roll = rng.random()
    if roll < 0.03:
        chosen = [rng.choice(GREETINGS), *chosen[:2]]
    elif roll < 0.05:
        chosen = [*chosen[:2], rng.choice(THANKS)]
    return SEP.join(f"User: {_one_message(q)}{SEP}Assistant: {_one_message(a)}" for q, a in chosen)


def _one_message(text: str) -> str:
    return re.sub(r"\n\s*\n", "\n", text).strip()  # a blank line inside a message would end the turn


def is_valid(synset_id: str, fraction: float) -> bool:
    digest = hashlib.sha256(synset_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") < fraction * 2**64


# -- tokenizer and statistics -------------------------------------------------------------------


def train_tokenizer(texts: list[str], vocab_size: int):
    """Byte-level BPE, id 0 = ``<|endoftext|>``. ``\\n\\n`` is split off before the GPT-2 regex,
    which would otherwise cut it into two ``\\n`` pieces before a word, so BPE can merge it into
    the one token the chat stops on."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(SEP, behavior="isolated"),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOT], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer=trainer, length=len(texts))
    return tok


def token_streams(tok, texts: list[str]) -> Iterator[list[int]]:
    """Each document's ids as ``engine.tools.train.load_tokens`` reads them: text + the separator."""
    for enc in tok.encode_batch([t + SEP for t in texts], add_special_tokens=False):
        yield enc.ids


def unigram_baseline(train_ids: Iterable[list[int]], valid_ids: Iterable[list[int]], vocab: int) -> dict:
    counts = Counter(i for ids in train_ids for i in ids)
    total = sum(counts.values())
    nll, n = 0.0, 0
    for ids in valid_ids:
        for i in ids:
            nll -= math.log((counts[i] + 1) / (total + vocab))
            n += 1
    return {"model": "unigram, train frequencies, add-one smoothing over the whole vocabulary",
            "valid_nats_per_token": round(nll / n, 4), "valid_perplexity": round(math.exp(nll / n), 2)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True, help="folder for train/valid.jsonl, tokenizer.json, stats.json")
    p.add_argument("--wordnet", type=Path, default=Path("/usr/share/wordnet"), help="WordNet 3.0 dict folder")
    p.add_argument("--vocab-size", type=int, default=4096)
    p.add_argument("--valid-fraction", type=float, default=0.03)
    a = p.parse_args(argv)
    start = time.perf_counter()

    synsets = read_wordnet(a.wordnet)
    if "WordNet 3.0 Copyright 2006" not in licence_notice(a.wordnet):
        sys.exit(f"{a.wordnet} does not hold WordNet 3.0 (the data files' notice differs).")
    splits: dict[str, list[str]] = {"train": [], "valid": []}
    for s in synsets.values():
        text = document(s, synsets)
        if text is not None:
            splits["valid" if is_valid(s.id, a.valid_fraction) else "train"].append(text)
    for name, texts in splits.items():
        random.Random(name).shuffle(texts)  # mix parts of speech; same order on every run

    a.out.mkdir(parents=True, exist_ok=True)
    for name, texts in splits.items():
        with open(a.out / f"{name}.jsonl", "w", encoding="utf-8", newline="\n") as f:
            f.writelines(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts)
    tok = train_tokenizer([t + SEP for t in splits["train"]], a.vocab_size)
    tok.save(str(a.out / "tokenizer.json"))

    ids = {name: list(token_streams(tok, texts)) for name, texts in splits.items()}
    probes = {s: [tok.id_to_token(i) for i in tok.encode(s, add_special_tokens=False).ids]
              for s in (SEP, "User:", "Assistant:", "User: Hi\n\nAssistant: Hello")}
    stats = {
        "sources": [{"package": PACKAGE, "version": package_version(PACKAGE), "path": str(a.wordnet),
                     "licence": "WordNet 3.0 licence (Princeton University)"}],
        "synsets_read": len(synsets),
        "splits": {name: {"documents": len(texts), "characters": sum(map(len, texts)),
                          "utf8_bytes": sum(len(t.encode()) for t in texts),
                          "tokens": sum(map(len, ids[name]))} for name, texts in splits.items()},
        "tokens_counted_as": "each document + '\\n\\n', as engine.tools.train.load_tokens streams them",
        "tokenizer": {"vocab_size": tok.get_vocab_size(), "endoftext_id": tok.token_to_id(EOT),
                      "separator_ids": tok.encode(SEP, add_special_tokens=False).ids, "probes": probes},
        "unigram_baseline": unigram_baseline(ids["train"], ids["valid"], tok.get_vocab_size()),
    }
    (a.out / "stats.json").write_text(json.dumps(stats, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(stats["splits"]), json.dumps(stats["unigram_baseline"]), sep="\n")
    print(f"wrote {a.out} in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
