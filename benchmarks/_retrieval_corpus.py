"""Synthetic videos for the retrieval benchmark: concepts spoken in plain words, and paraphrases of them.

Each concept has three sentences (what a video says) and a paraphrase that shares
no content word with them (what a viewer might type instead). A video talks about
two concepts, so a few hundred videos are distinct topics built from 40 concepts;
its paraphrase query names both concepts in other words.
"""

from __future__ import annotations

import itertools
import random
import re
from dataclasses import dataclass

CONCEPTS: list[tuple[tuple[str, str, str], str]] = [
    (
        (
            "The volcano erupted and lava poured down the slope.",
            "Ash fell on the villages near the crater.",
            "Geologists measured the tremors every hour.",
        ),
        "molten rock bursting from a peak",
    ),
    (
        (
            "Whales migrate south every winter across the ocean.",
            "Their songs carry for many miles underwater.",
            "Calves are born in warm lagoons.",
        ),
        "marine mammals roaming between hemispheres",
    ),
    (
        (
            "Knead the dough and let the bread rise.",
            "Bake the loaf until the crust is golden.",
            "Yeast makes the dough light and airy.",
        ),
        "homemade patisserie with a baguette",
    ),
    (
        (
            "The striker scored a goal in the final minute.",
            "Football fans cheered in the stadium.",
            "The goalkeeper saved a penalty kick.",
        ),
        "soccer triumph and celebration",
    ),
    (
        (
            "The stock market fell as investors sold shares.",
            "Interest rates rose at the central bank.",
            "Traders watched prices drop all day.",
        ),
        "finance crash and equity losses",
    ),
    (
        (
            "The rocket launched toward the space station.",
            "Astronauts docked after two days in orbit.",
            "Engines burned fuel during the ascent.",
        ),
        "cosmonauts voyage to a celestial outpost",
    ),
    (
        (
            "Plant tomatoes in sunny soil and water them daily.",
            "Pull weeds before they spread.",
            "Compost feeds the garden beds.",
        ),
        "growing vegetables in a backyard plot",
    ),
    (
        (
            "The violinist played a concerto with the orchestra.",
            "The conductor raised his baton.",
            "Strings and horns filled the hall.",
        ),
        "classical symphony performance",
    ),
    (
        ("Doctors vaccinated children against measles.", "The clinic gave free injections.", "Nurses recorded every dose."),
        "immunization drive for kids",
    ),
    (
        (
            "The glacier is melting faster each summer.",
            "Ice sheets shrink as temperatures climb.",
            "Meltwater raises sea levels.",
        ),
        "hotter planet thawing frozen rivers",
    ),
    (
        (
            "The chess grandmaster sacrificed her queen.",
            "Her opponent resigned after the bishop attack.",
            "The tournament lasted nine rounds.",
        ),
        "checkmate tactics of a champion",
    ),
    (
        (
            "Bees collect nectar from the flowers.",
            "The hive produces honey in late summer.",
            "Beekeepers wear veils to avoid stings.",
        ),
        "buzzing insects creating sweet syrup",
    ),
    (
        (
            "The train left the station on time.",
            "Passengers boarded the carriages with luggage.",
            "The railway crosses three bridges.",
        ),
        "rail journey by locomotive",
    ),
    (
        ("The cyclist climbed the mountain pass.", "Riders raced downhill at high speed.", "The bicycle chain needed oil."),
        "pedalling uphill on a bike",
    ),
    (
        ("The surgeon operated on the patient's heart.", "The operation took six hours.", "Recovery in hospital lasted a week."),
        "cardiac procedure in a medical theatre",
    ),
    (
        ("Programmers fixed the bug in the software.", "The code compiled after the patch.", "Tests ran on every commit."),
        "debugging computer applications",
    ),
    (
        (
            "The election campaign reached its final week.",
            "Voters queued at polling stations.",
            "Candidates debated taxes on television.",
        ),
        "ballots and politicians before a vote",
    ),
    (
        ("The chef grilled salmon with lemon.", "Fresh herbs seasoned the fish.", "The restaurant kitchen was busy all night."),
        "cooking seafood dinner",
    ),
    (
        ("The earthquake shook buildings downtown.", "Rescue teams searched the rubble.", "Aftershocks continued until morning."),
        "seismic disaster and collapsed houses",
    ),
    (
        ("The painter mixed colours on her palette.", "Brushstrokes covered the canvas.", "The gallery displayed the portrait."),
        "artist creating a picture",
    ),
    (
        ("Lions hunted zebras on the savanna.", "The pride rested under acacia trees.", "Cubs learned to stalk their prey."),
        "big cats chasing animals in Africa",
    ),
    (
        (
            "The pilot landed the airplane in fog.",
            "Passengers fastened seatbelts before descent.",
            "The runway lights guided the jet.",
        ),
        "aircraft touchdown in poor visibility",
    ),
    (
        ("Farmers harvested wheat in the fields.", "The combine cut grain all afternoon.", "Barns filled with straw."),
        "agricultural crop gathering",
    ),
    (
        (
            "The detective questioned the suspect.",
            "Fingerprints matched the stolen wallet.",
            "Police arrested the thief at dawn.",
        ),
        "crime inquiry and capture",
    ),
    (
        (
            "The hurricane made landfall with strong winds.",
            "Residents evacuated the coast.",
            "Flooding damaged thousands of homes.",
        ),
        "tropical storm hitting shore",
    ),
    (
        (
            "Students studied algebra for the exam.",
            "The teacher explained equations on the board.",
            "Homework was due on Friday.",
        ),
        "mathematics lessons at school",
    ),
    (
        (
            "The marathon runner crossed the finish line.",
            "Athletes trained for months on the road.",
            "Water stations lined the course.",
        ),
        "endurance running event through a city",
    ),
    (
        ("Scientists sequenced the virus genome.", "The laboratory analysed DNA samples.", "Mutations changed the protein."),
        "genetic research on microbes",
    ),
    (
        ("The castle was built in the twelfth century.", "Knights defended its stone walls.", "A moat surrounded the fortress."),
        "medieval citadel past",
    ),
    (
        ("Coffee beans are roasted before grinding.", "The barista poured an espresso.", "Milk foam topped the cappuccino."),
        "brewing a caffeinated drink",
    ),
    (
        (
            "The telescope photographed a distant galaxy.",
            "Astronomers counted new stars.",
            "The nebula glowed in infrared light.",
        ),
        "observing the cosmos after dusk",
    ),
    (
        ("Divers explored the coral reef.", "Colourful fish swam between the corals.", "The reef is threatened by bleaching."),
        "snorkelling among aquatic creatures",
    ),
    (
        ("The carpenter sawed planks for the table.", "He sanded the wood smooth.", "Nails and glue held the joints."),
        "crafting furniture from lumber",
    ),
    (
        ("The solar panels produce electricity on the roof.", "Batteries store power for the night.", "Inverters feed the grid."),
        "renewable energy from sunshine",
    ),
    (
        ("The novelist finished her third book.", "Readers queued for signed copies.", "The publisher printed ten thousand."),
        "author releasing fiction",
    ),
    (
        ("The dog learned to sit and fetch.", "Puppies need patient training.", "Treats reward good behaviour."),
        "obedience coaching for a canine companion",
    ),
    (
        ("Miners dug coal deep underground.", "The shaft was dark and narrow.", "Helmets carried lamps."),
        "extracting anthracite in a subterranean pit",
    ),
    (
        ("The wedding ceremony took place in the church.", "The bride wore a white dress.", "Guests danced at the reception."),
        "marriage celebration with family",
    ),
    (
        ("Wind turbines spin on the hills.", "Each blade is forty metres long.", "The farm powers a small town."),
        "harnessing current from breezes",
    ),
    (
        ("The submarine dived beneath the ice.", "Sonar tracked the ocean floor.", "The crew surfaced after a month."),
        "naval vessel travelling submerged",
    ),
]

FILLER = ("Welcome back to the channel.", "Thanks for watching, see you next time.", "Let me know your thoughts in the comments.")

_WORD = re.compile(r"[a-z]+")


def stems(text: str) -> set[str]:
    """Crude stems (first five letters) of the content words: stricter than the engines' stemming."""
    from pipeline.search.terms import STOP_WORDS

    return {w[:5] for w in _WORD.findall(text.lower()) if w not in STOP_WORDS and len(w) > 2}


@dataclass(frozen=True)
class SyntheticVideo:
    video_id: int
    title: str
    sentences: tuple[str, ...]
    exact_query: str  # words spoken in the video
    paraphrase: str  # no content word in common with anything the video says


def build_videos(count: int, seed: int = 7) -> list[SyntheticVideo]:
    rng = random.Random(seed)
    pairs = list(itertools.combinations(range(len(CONCEPTS)), 2))
    rng.shuffle(pairs)
    if count > len(pairs):
        raise ValueError(f"at most {len(pairs)} distinct videos")
    videos = []
    for n, (a, b) in enumerate(pairs[:count], start=1):
        (sa, pa), (sb, pb) = CONCEPTS[a], CONCEPTS[b]
        sentences = (FILLER[0], *sa, *sb, FILLER[rng.randrange(1, 3)])
        # Exact words: one distinctive word from each concept's first sentence.
        exact = " ".join(rng.choice([w for w in _WORD.findall(s.lower()) if len(w) > 5] or ["video"]) for s in (sa[0], sb[0]))
        paraphrase = f"{pa} and {pb}"
        overlap = stems(paraphrase) & stems(" ".join(sentences))
        if overlap:
            raise AssertionError(f"paraphrase {paraphrase!r} shares {sorted(overlap)} with video {n}")
        videos.append(SyntheticVideo(n, f"Episode {n}", sentences, exact, paraphrase))
    return videos
