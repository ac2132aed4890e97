"""pufferd/web/raises.py reads the statuses a function can lead to from its code (issue 11, item 5).

Each rule is shown on tests/web/raises_sample.py; the routes of pufferd are in test_openapi.py.
"""
from __future__ import annotations

import raises_sample as sample
from aiohttp import web

from pufferd.web import raises
from pufferd.web.routes import all_routes


def statuses(fn) -> set[int]:
    eff = raises.Analyser(packages=("pufferd", "raises_sample")).effects(fn)
    return {raises.status_of(exc) for exc in eff.errors} | eff.responses


def test_a_raise_is_its_status_with_where_and_what():
    eff = raises.Analyser(packages=("pufferd", "raises_sample")).effects(sample.not_found)
    (sites,) = eff.errors.values()
    assert statuses(sample.not_found) == {404}
    assert [s.text for s in sites] == ["sample not found"]
    assert all(s.where.startswith("raises_sample:") for s in sites)


def test_an_error_caught_and_not_raised_again_does_not_leave():
    assert statuses(sample.caught_and_dropped) == set()


def test_an_error_raised_again_leaves_whatever_the_handler_names():
    assert statuses(sample.caught_by_a_base_and_raised_again) == {404}


def test_an_error_caught_and_replaced_leaves_as_the_new_one():
    assert statuses(sample.translated) == {403}


def test_a_factory_raises_what_its_return_annotation_names():
    assert statuses(sample.through_a_factory) == {422}


def test_a_raised_variable_has_the_type_of_what_it_was_assigned():
    assert statuses(sample.limit) == set()  # caught and returned, not raised
    assert statuses(sample.a_returned_error_raised_later) == {429}


def test_a_nested_function_handed_to_another_counts_as_called():
    assert statuses(sample.a_nested_function_handed_over) == {409}


def test_a_method_on_a_protocol_is_every_implementation():
    assert statuses(sample.through_a_protocol) == {503}


def test_branches_fixed_by_the_closure_take_only_the_path_that_runs():
    assert statuses(sample.make(True)) == {204}
    assert statuses(sample.make(False)) == {416}


def test_responses_built_count_with_every_status_they_may_have():
    assert statuses(sample.responses) == {200, 206, 304}


def test_every_raise_of_every_route_is_understood():
    for r in all_routes():
        raises.answers(r)
    assert raises.unresolved() == []


def test_status_of_maps_domain_and_aiohttp_errors_and_nothing_else():
    assert raises.status_of(web.HTTPNotModified) == 304
    assert raises.status_of(ValueError) is None
