"""A realistic talk transcript, as Whisper would segment it."""

from __future__ import annotations

import pytest

from pipeline.text import TimedSegment

TALK = """\
Welcome back to the channel. Today we are building a compost system for a small city garden.
Composting turns kitchen scraps and garden waste into dark, crumbly soil that plants love.
A good compost pile needs four things: greens, browns, water and air.
Greens are the nitrogen-rich materials like vegetable peels, coffee grounds and fresh grass clippings.
Browns are the carbon-rich materials like dry leaves, cardboard and straw.
As a rule of thumb, aim for about three parts browns to one part greens by volume.

Let's talk about the bin itself. We used three wooden pallets screwed together into an open box.
The open front lets you turn the pile with a garden fork every week or two.
Turning the pile adds air, and the microbes that break down the scraps need oxygen to work quickly.
If your compost smells like rotten eggs, it has too little air and probably too many greens.
Add a layer of shredded cardboard and turn the pile, and the smell disappears within days.

Moisture matters just as much as air. The pile should feel like a wrung-out sponge.
If it is too dry, the microbes slow down and nothing happens for months.
If it is too wet, the pile turns slimy and starts to smell.
In a hot summer we water the compost bin once a week with a hose.

Now, what should never go in the compost? Meat, fish and dairy attract rats and flies.
Pet waste can carry parasites, so keep it out of any compost you use on vegetables.
Diseased plants and weeds that have gone to seed are also better left out.

A well managed pile heats up to around sixty degrees Celsius in the middle.
That heat kills most weed seeds and pathogens, which is why turning the pile matters.
After two or three months of regular turning, the compost is dark and smells like a forest floor.
Sift it through a wire mesh and spread it on your garden beds in spring.
Your vegetables will grow stronger and you will throw away far less kitchen waste.
Thanks for watching, and let us know in the comments how your compost turns out.
"""


def talk_segments() -> list[TimedSegment]:
    """One segment per line of TALK, four seconds each; paragraph breaks add a pause."""
    segments: list[TimedSegment] = []
    clock = 0.0
    for line in TALK.splitlines():
        if not line.strip():
            clock += 2.0
            continue
        segments.append(TimedSegment(start=clock, end=clock + 4.0, text=line))
        clock += 4.0
    return segments


@pytest.fixture
def talk() -> list[TimedSegment]:
    return talk_segments()
